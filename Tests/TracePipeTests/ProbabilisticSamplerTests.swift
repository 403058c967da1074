import Foundation
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

final class ProbabilisticSamplerTests: XCTestCase {
    static func sampler(_ processorYAML: String, next: any TraceConsumer) throws -> SpanProcessor<ProbabilisticSampler> {
        let context = ProcessorFixture.context("probabilistic_sampler")
        return SpanProcessor(ProbabilisticSampler(config: try ProcessorFixture.config(processorYAML, id: "probabilistic_sampler"), context: context),
                             context: context, next: next)
    }

    /// The reference's test vectors: FNV-1a of seed and trace id, bucket, decision, tracestate.
    func testHashSeedVectors() async throws {
        let ids = [TraceID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10), TraceID(high: 0x5b8e_fff7_9803_8103, low: 0xd269_b633_813f_c60c)]
        XCTAssertEqual(ProbabilisticSampler.fnv1a(seed: 0, traceID: ids[0]), 0xdf24_1a25)
        XCTAssertEqual(ProbabilisticSampler.fnv1a(seed: 0, traceID: ids[1]), 0x245d_d6df)
        XCTAssertEqual(ProbabilisticSampler.fnv1a(seed: 22, traceID: ids[0]), 0xd863_b443)
        XCTAssertEqual(ProbabilisticSampler.fnv1a(seed: 22, traceID: ids[1]), 0xa2a6_4cc9)
        for (pct, scaled) in [(1.0, 163), (10, 1638), (25, 4096), (33.3, 5455), (50, 8192), (99.99, 16382), (100, 16384)] as [(Float, UInt32)] {
            XCTAssertEqual(UInt32(pct * Float(163.84)), scaled, "\(pct)%")
        }
        // (seed, id, 10% keep?, 50% keep?)
        let table: [(UInt32, Int, Bool, Bool)] = [(0, 0, false, true), (0, 1, false, true), (22, 0, false, false), (22, 1, false, true)]
        for (seed, id, keep10, keep50) in table {
            for (pct, want) in [(10, keep10), (50, keep50)] {
                let sink = CollectingConsumer()
                let s = try Self.sampler("processors: {probabilistic_sampler: {sampling_percentage: \(pct), hash_seed: \(seed)}}", next: sink)
                try await s.consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(traceID: ids[id], spanID: SpanID(1))])])]))
                let got = await sink.spans
                XCTAssertEqual(got.count, want ? 1 : 0, "seed \(seed) id \(id) \(pct)%")
                if seed == 0 && id == 0 && pct == 50 { XCTAssertEqual(got.first?.traceState, "ot=rv:976837c4f25a25;th:8") }
            }
        }
        // Edge cases: 0% keeps nothing, 100% keeps everything but the all-zero id (no randomness).
        for (pct, seed, want) in [(0.0, 0, 0), (100, 4_294_967_295, 2), (0.01, 0, 0)] as [(Double, UInt32, Int)] {
            let sink = CollectingConsumer()
            let s = try Self.sampler("processors: {probabilistic_sampler: {sampling_percentage: \(pct), hash_seed: \(seed)}}", next: sink)
            try await s.consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [
                Span(traceID: ids[0], spanID: SpanID(1)), Span(traceID: ids[1], spanID: SpanID(2)), Span(traceID: .zero, spanID: SpanID(3)),
            ])])]))
            let n = await sink.spans.count
            XCTAssertEqual(n, want, "\(pct)% seed \(seed)")
        }
    }

    struct Summary: Decodable {
        struct Entry: Decodable {
            var name: String
            var kept: Bool
            var output_traceState: String?
        }
        var spans: [Entry]
    }

    /// Every recorded case: which spans survive and the trace state they leave with.
    func testConformanceVectors() async throws {
        let dir = ComponentOutputTests.conformance.appendingPathComponent("probabilistic-sampler")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".summary.json") }.sorted()
        XCTAssertEqual(names.count, 12)
        for name in names {
            let base = String(name.dropLast(".summary.json".count))
            let yaml = try String(contentsOf: dir.appendingPathComponent("\(base).config.yaml"), encoding: .utf8)
            var input = Array(try Data(contentsOf: dir.appendingPathComponent("\(base).input.json")))
            if input.last == 0x0A { input.removeLast() }
            let summary = try JSONDecoder().decode(Summary.self, from: Data(contentsOf: dir.appendingPathComponent(name)))
            let sink = CollectingConsumer()
            let s = try Self.sampler(yaml, next: sink)
            try await s.consume(try OTLPJSONDecoder.decode(input))
            let got = Dictionary(uniqueKeysWithValues: await sink.spans.map { ($0.name, $0.traceState) })
            for e in summary.spans {
                XCTAssertEqual(got[e.name] != nil, e.kept, "\(base) \(e.name)")
                if e.kept { XCTAssertEqual(got[e.name], e.output_traceState ?? "", "\(base) \(e.name)") }
            }
        }
    }

    func testConfigErrors() {
        for (yaml, message) in [
            ("{sampling_percentage: -1}", "sampling rate is negative"),
            ("{sampling_percentage: 10, mode: fancy}", "unsupported sampler mode"),
            ("{sampling_percentage: 10, sampling_precision: 15}", "sampling precision is too great"),
            ("{sampling_percentage: 10, sampling_precision: 0}", "invalid sampling precision"),
        ] {
            XCTAssertThrowsError(try Self.sampler("processors: {probabilistic_sampler: \(yaml)}", next: CollectingConsumer())) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
            }
        }
    }
}

extension ProbabilisticSamplerTests {
    /// 10 % of 10,000 random traces kept, within five standard deviations (±150).
    func testKeepRateOverTenThousandTraces() async throws {
        let sink = CollectingConsumer()
        let s = try Self.sampler("processors: {probabilistic_sampler: {sampling_percentage: 10, hash_seed: 7}}", next: sink)
        var z: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        var spans: [Span] = []
        for _ in 0..<10_000 { spans.append(Span(traceID: TraceID(high: next(), low: next()), spanID: SpanID(next() | 1))) }
        try await s.consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: spans)])]))
        let kept = await sink.spans.count
        XCTAssertTrue((850...1150).contains(kept), "kept \(kept) of 10,000 at 10 %")
    }

    /// The spans of one trace arriving in separate requests (and at separate samplers with the
    /// same seed) get one decision: traces are kept or dropped whole.
    func testWholeTracesAcrossRequestsAndInstances() async throws {
        let a = CollectingConsumer(), b = CollectingConsumer()
        let first = try Self.sampler("processors: {probabilistic_sampler: {sampling_percentage: 50, hash_seed: 3}}", next: a)
        let second = try Self.sampler("processors: {probabilistic_sampler: {sampling_percentage: 50, hash_seed: 3}}", next: b)
        for t in 1...200 {
            let id = TraceID(high: UInt64(t) &* 0x9E37_79B9_7F4A_7C15, low: UInt64(t) &* 0xC2B2_AE3D_27D4_EB4F)
            for part in 0..<3 {
                let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(traceID: id, spanID: SpanID(UInt64(t * 10 + part)))])])])
                try await (part == 1 ? second : first).consume(data)
            }
        }
        let all = await a.spans + b.spans
        let perTrace = Dictionary(grouping: all, by: \.traceID).mapValues(\.count)
        XCTAssertTrue(perTrace.values.allSatisfy { $0 == 3 }, "a kept trace keeps all three spans")
        XCTAssertTrue((60...140).contains(perTrace.count), "about half of 200 traces: \(perTrace.count)")
    }
}
