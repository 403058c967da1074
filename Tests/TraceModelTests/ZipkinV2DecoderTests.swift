import TraceModel
import XCTest

final class ZipkinV2DecoderTests: XCTestCase {
    func decode(_ json: String) throws -> [ZipkinSpan] {
        try Array(json.utf8).withUnsafeBytes { try ZipkinV2JSONDecoder.decode($0) }
    }

    /// Spans come out in order, each with its own fields (they are decoded in place, one after
    /// the other, into the result).
    func testSpansKeepTheirOrderAndFields() throws {
        let spans = try decode("""
            [{"traceId":"5b8efff798038103d269b633813fc60c","id":"eee19b7ec3c1b174","name":"get /a","kind":"SERVER",
              "localEndpoint":{"serviceName":"a"},"tags":{"http.method":"GET"}},
             {"traceId":"5b8efff798038103d269b633813fc60c","id":"eee19b7ec3c1b175","parentId":"eee19b7ec3c1b174","name":"select",
              "localEndpoint":{"serviceName":"b"},"tags":{"db.system":"postgresql","k":"v"}}]
            """)
        XCTAssertEqual(spans.map(\.name), ["get /a", "select"])
        XCTAssertEqual(spans.map(\.id.hex), ["eee19b7ec3c1b174", "eee19b7ec3c1b175"])
        XCTAssertEqual(spans.map { $0.localEndpoint?.serviceName }, ["a", "b"])
        XCTAssertEqual(spans[0].tags.map(\.key), ["http.method"])
        XCTAssertEqual(spans[1].tags.map(\.key), ["db.system", "k"])
        XCTAssertEqual(spans[1].parentID.hex, "eee19b7ec3c1b174")
        XCTAssertEqual(spans[0].kind, "SERVER")
    }

    /// An error names the span it is in, counted from 0.
    func testErrorsNameTheSpan() {
        XCTAssertThrowsError(try decode("""
            [{"traceId":"5b8efff798038103d269b633813fc60c","id":"eee19b7ec3c1b174"},
             {"traceId":"5b8efff798038103d269b633813fc60c","id":"eee19b7ec3c1b175","tags":{"n":1}}]
            """)) { e in
            XCTAssertTrue("\(e)".hasPrefix("span 1: "), "\(e)")
        }
        XCTAssertThrowsError(try decode("[null]")) { e in
            XCTAssertEqual("\(e)", "span 0: valid span id required")
        }
    }
}
