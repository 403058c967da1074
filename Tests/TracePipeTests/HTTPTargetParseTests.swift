import Foundation
import XCTest
@testable import TracePipe

/// Endpoints are parsed without Foundation's URL parser (which loads ICU): the result must be
/// what URLComponents made of them, and what it refused stays refused.
final class HTTPTargetParseTests: XCTestCase {
    func testAgreesWithURLComponents() {
        let urls = [
            "http://localhost:4318", "http://localhost:4318/", "https://tempo.example.com/v1/traces",
            "HTTP://Tempo:4318/v1/traces", "https://tempo.example.com", "http://127.0.0.1:14380",
            "http://[::1]:4318/v1/traces", "https://[2001:db8::1]/otlp", "http://tempo:4318/otlp/v1/traces?tenant=a&x=1",
            "http://tempo:4318?x=1", "http://tempo:4318/a#frag", "http://user:pw@tempo:4318/v1/traces",
            "http://tempo-distributor.tempo.svc.cluster.local:4318", "http://tempo:/v1/traces",
            "http://my_host:4318", "http://tempo:4318/a%20b",
        ]
        for u in urls {
            XCTAssertEqual(HTTPTarget.parse(u), HTTPTarget.parseWithURLComponents(u), u)
            XCTAssertNotNil(HTTPTarget.parse(u), u)
        }
    }

    func testRefusesWhatIsNotAnHTTPURL() {
        for u in ["tempo:4318", "ftp://tempo/", "http://", "http:///v1/traces", "http://tempo:99999/", "http://tempo:43a8/",
                  "http://tempo:-1/", "http://te mpo:4318/", "http://[::1/", "http://[::1]x/", ""] {
            XCTAssertNil(HTTPTarget.parse(u), u)
        }
    }

    func testOtherTextGoesThroughURLComponents() {
        XCTAssertEqual(HTTPTarget.parse("http://tempö.example:4318/v1/traces")?.port, 4318)
        XCTAssertEqual(HTTPTarget.parse("http://tempo:4318/a b")?.path, "/a%20b")
    }

    /// An IPv6 literal is connected to bare and named in brackets (URLComponents kept the
    /// brackets in the host, which no resolver accepts).
    func testIPv6Literal() {
        let t = HTTPTarget.parse("http://[::1]:4318/v1/traces")
        XCTAssertEqual(t?.host, "::1")
        XCTAssertEqual(t?.description, "http://[::1]:4318/v1/traces")
    }

    func testTrimmingMatchesFoundation() {
        let texts = ["", " ", "\t a b \t", "  x", "x  ", "\u{00A0}x\u{2003}", "\nx\n", " \r\n y \u{2028}", "ü ", "\t\t"]
        for t in texts {
            XCTAssertEqual(t.trimmingSpaces(), t.trimmingCharacters(in: .whitespaces), t.debugDescription)
            XCTAssertEqual(t.trimmingWhitespace(), t.trimmingCharacters(in: .whitespacesAndNewlines), t.debugDescription)
            XCTAssertEqual(t.dropFirst(0).trimmingSpaces(), t.trimmingCharacters(in: .whitespaces), t.debugDescription)
        }
    }
}
