import Foundation
import TraceModel
import XCTest

/// A seeded mutation fuzzer over every decoder, starting from the corpus in `Corpus/` (and the
/// all-fields sample): flips, deletions, insertions, splices of interesting bytes and
/// truncations. Every input must decode or throw — never crash or hang. Bounded by a fixed
/// number of iterations so CI time stays predictable; set FUZZ_ITERATIONS to run longer.
final class DecoderFuzzTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")
    static let iterations = Int(ProcessInfo.processInfo.environment["FUZZ_ITERATIONS"] ?? "") ?? 4000

    func seeds(_ suffix: String) throws -> [[UInt8]] {
        try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(suffix) }.sorted()
            .map { Array(try Data(contentsOf: Self.corpus.appendingPathComponent($0))) }
    }

    func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        let interesting: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x0A, 0x12, 0x1A, 0xC3, 0xED]
        for _ in 0..<(1 + Int(rng.next() % 6)) where !b.isEmpty {
            let i = Int(rng.next() % UInt64(b.count))
            switch rng.next() % 6 {
            case 0: b[i] ^= UInt8(1 << (rng.next() % 8))
            case 1: b.remove(at: i)
            case 2: b.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: i)
            case 3: b[i] = interesting[Int(rng.next() % UInt64(interesting.count))]
            case 4:
                // Duplicate a slice (nesting, repeated fields).
                let j = min(b.count, i + Int(rng.next() % 32))
                b.insert(contentsOf: b[i..<j], at: i)
            default: b = Array(b[0..<i])
            }
        }
        return b
    }

    func fuzz(_ seeds: [[UInt8]], seed: UInt64, _ decode: ([UInt8]) -> Void) {
        XCTAssertFalse(seeds.isEmpty)
        var rng = SplitMix64(seed: seed)
        for s in seeds { decode(s) }
        for n in 0..<Self.iterations {
            decode(mutate(seeds[n % seeds.count], &rng))
        }
    }

    func testOTLPJSON() throws {
        let seeds = try seeds(".json").filter { _ in true } + [OTLPJSONEncoder.encode(Fixtures.allFields)]
        fuzz(seeds, seed: 1) { _ = try? OTLPJSONDecoder.decode($0) }
    }

    func testOTLPProtobuf() throws {
        fuzz(try seeds(".pb") + [OTLPProtobufEncoder.encode(Fixtures.allFields)], seed: 2) { _ = try? OTLPProtobufDecoder.decode($0) }
    }

    func testZipkinV2() throws {
        fuzz(try seeds(".json").filter { String(decoding: $0.prefix(1), as: UTF8.self) == "[" }, seed: 3) { body in
            _ = body.withUnsafeBytes { try? ZipkinV2JSONDecoder.decode($0) }
        }
    }

    func testZipkinV1() throws {
        fuzz(try seeds(".json").filter { String(decoding: $0.prefix(1), as: UTF8.self) == "[" }, seed: 4) { body in
            _ = body.withUnsafeBytes { try? ZipkinV1JSONDecoder.decode($0) }
        }
    }
}
