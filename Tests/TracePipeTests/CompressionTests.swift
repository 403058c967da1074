import NIOCore
import XCTest

@testable import TracePipe

/// Both compression engines: libdeflate (loaded at run time when its library is present) and
/// the zlib fallback a machine without it uses.
final class CompressionTests: XCTestCase {
    /// One deflater per engine this machine has (zlib always; libdeflate when it loads).
    private func deflaters(_ format: ZlibFormat, level: Int32 = 1) throws -> [Deflater] {
        var all = [try Deflater(format: format, level: level, preferLibdeflate: false)]
        if Deflater.libdeflateAvailable { all.append(try Deflater(format: format, level: level)) }
        return all
    }

    func testTheFallbackIsZlibAndLibdeflateIsUsedWhenPresent() throws {
        XCTAssertEqual(try Deflater(format: .gzip, level: 1, preferLibdeflate: false).engineName, "zlib")
        let preferred = try Deflater(format: .gzip, level: 1)
        XCTAssertEqual(preferred.engineName, Deflater.libdeflateAvailable ? "libdeflate" : "zlib")
        if !Deflater.libdeflateAvailable {
            print("note: libdeflate.so.0 not found on this machine; only the zlib engine was tested")
        }
    }

    func testGzipRoundTripAndTheDecompressionLimit() throws {
        let input = Array(repeating: UInt8(ascii: "a"), count: 1_000_000)
        for format in [ZlibFormat.gzip, .zlib] {
            for d in try deflaters(format) {
                let packed = input.withUnsafeBytes { d.compress($0) }
                XCTAssertLessThan(packed.count, 10_000, d.engineName)
                let again = input.withUnsafeBytes { d.compress($0) }
                XCTAssertEqual(packed, again, "a reused \(d.engineName) deflater gives the same bytes")
                XCTAssertEqual(try packed.withUnsafeBytes { try Inflater.decompress($0, format: format, limit: 2_000_000) }, input)
                XCTAssertThrowsError(try packed.withUnsafeBytes { try Inflater.decompress($0, format: format, limit: 999_999) }) { e in
                    XCTAssertEqual(e as? Inflater.Failure, .tooLarge(limit: 999_999))
                }
                XCTAssertThrowsError(try Array(packed.dropLast(10)).withUnsafeBytes { try Inflater.decompress($0, format: format, limit: 2_000_000) })
            }
        }
        XCTAssertThrowsError(try [UInt8]("not gzip".utf8).withUnsafeBytes { try Inflater.decompress($0, format: .gzip, limit: 100) }) { e in
            XCTAssertEqual("\(e)", "gzip: invalid header")
        }
    }

    /// Incompressible input is the worst case for the bound each engine reserves.
    func testIncompressibleInputAtEveryLevelFitsTheBound() throws {
        var rng = SystemRandomNumberGenerator()
        let input = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for format in [ZlibFormat.gzip, .zlib] {
            for level: Int32 in [-1, 1, 6, 9, 12] {
                for d in try deflaters(format, level: level) {
                    let packed = input.withUnsafeBytes { d.compress($0) }
                    XCTAssertEqual(try packed.withUnsafeBytes { try Inflater.decompress($0, format: format, limit: 100_000) }, input,
                                   "\(d.engineName) level \(level)")
                }
            }
        }
        XCTAssertThrowsError(try Deflater(format: .gzip, level: 13))
    }

    /// Compressing straight into a ByteBuffer (what the exporter sends) gives the same member,
    /// after whatever the buffer already held.
    func testCompressingIntoAByteBufferAppends() throws {
        let input = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        for format in [ZlibFormat.gzip, .zlib] {
            for d in try deflaters(format) {
                let packed = input.withUnsafeBytes { d.compress($0) }
                var buffer = ByteBuffer(string: "head")
                input.withUnsafeBytes { d.compress($0, appendingTo: &buffer) }
                XCTAssertEqual(buffer.readString(length: 4), "head")
                XCTAssertEqual(buffer.readBytes(length: buffer.readableBytes), packed, d.engineName)
            }
        }
    }
}
