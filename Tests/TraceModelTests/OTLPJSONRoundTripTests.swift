import Foundation
import TraceModel
import XCTest

final class OTLPJSONRoundTripTests: XCTestCase {
    func testEveryFieldRoundTrips() throws {
        let data = Fixtures.allFields
        let encoded = OTLPJSONEncoder.encode(data)
        let decoded = try OTLPJSONDecoder.decode(encoded)
        XCTAssertEqual(decoded, data)
        // And the encoding is stable.
        XCTAssertEqual(OTLPJSONEncoder.encode(decoded), encoded)
    }

    /// The exact bytes of the encoding, kept in a golden file: field order, omitted zero values,
    /// int64 as strings, NaN/Inf as strings, escaping, always-present resource/scope/status.
    func testEncodingMatchesGoldenFile() throws {
        let encoded = OTLPJSONEncoder.encode(Fixtures.allFields)
        let url = Fixtures.golden.appendingPathComponent("all-fields.json")
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try Data(encoded + [0x0A]).write(to: url)
        }
        var golden = try Fixtures.read(url)
        if golden.last == 0x0A { golden.removeLast() }
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self), String(decoding: golden, as: UTF8.self))
    }

    func testGoldenFileDecodesToTheModel() throws {
        let golden = try Fixtures.read(Fixtures.golden.appendingPathComponent("all-fields.json"))
        XCTAssertEqual(try OTLPJSONDecoder.decode(golden), Fixtures.allFields)
    }

    func testMinimalRequestEncodesLikeTheCollector() throws {
        let input = #"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","status":{}}]}]}]}"#
        let out = OTLPJSONEncoder.encode(try OTLPJSONDecoder.decode(input))
        XCTAssertEqual(String(decoding: out, as: UTF8.self), input)
    }

    func testFileExporterVectorIsByteExact() throws {
        let dir = Fixtures.conformance.appendingPathComponent("file-exporter")
        let input = try Fixtures.input(dir.appendingPathComponent("01-format-json-line.input.json"))
        let expected = try Fixtures.read(dir.appendingPathComponent("01-format-json-line.expected.raw.jsonl"))
        let line = OTLPJSONEncoder.encode(try OTLPJSONDecoder.decode(input)) + [0x0A]
        XCTAssertEqual(String(decoding: line + line, as: UTF8.self), String(decoding: expected, as: UTF8.self))
    }

    func testDoublesAreWrittenAsGoWritesThem() throws {
        func enc(_ d: Double) -> String {
            let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(attributes: [KeyValue("d", .double(d))])])])])
            let s = String(decoding: OTLPJSONEncoder.encode(data), as: UTF8.self)
            let r = s.range(of: "\"doubleValue\":")!
            return String(s[r.upperBound...].prefix { $0 != "}" })
        }
        XCTAssertEqual(enc(1), "1")
        XCTAssertEqual(enc(-0.0), "0")
        XCTAssertEqual(enc(2.5), "2.5")
        XCTAssertEqual(enc(.nan), "\"NaN\"")
        XCTAssertEqual(enc(-.infinity), "\"-Infinity\"")
        XCTAssertEqual(Double(enc(0.1)), 0.1)
        XCTAssertEqual(Double(enc(1e300)), 1e300)
    }
}
