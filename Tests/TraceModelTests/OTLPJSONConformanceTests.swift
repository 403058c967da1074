import Foundation
import TraceModel
import XCTest

/// Runs every `otlp-json-decoding` golden case recorded from the real collector: bodies it
/// accepted must decode and re-encode to what it exported; bodies it refused must throw.
final class OTLPJSONConformanceTests: XCTestCase {
    struct Answer: Decodable {
        var status: Int
    }

    func testEveryDecodingVector() throws {
        let dir = Fixtures.conformance.appendingPathComponent("otlp-json-decoding")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".input.json") }
            .map { String($0.dropLast(".input.json".count)) }
            .sorted()
        XCTAssertGreaterThanOrEqual(names.count, 40, "conformance vectors not found at \(dir.path)")
        for name in names {
            let input = try Fixtures.input(dir.appendingPathComponent("\(name).input.json"))
            let answer = try JSONDecoder().decode(Answer.self, from: Data(contentsOf: dir.appendingPathComponent("\(name).expected.http.json")))
            let exportedURL = dir.appendingPathComponent("\(name).expected.json")
            switch answer.status {
            case 200:
                let decoded: TraceData
                do {
                    decoded = try OTLPJSONDecoder.decode(input)
                } catch {
                    XCTFail("\(name): the collector accepted this body but we refused it: \(error)")
                    continue
                }
                if FileManager.default.fileExists(atPath: exportedURL.path) {
                    let ours = try Fixtures.canonical(OTLPJSONEncoder.encode(decoded))
                    let theirs = try Fixtures.canonical(Fixtures.read(exportedURL))
                    XCTAssertEqual(ours, theirs, "\(name): exported data differs")
                } else {
                    XCTAssertEqual(decoded.spanCount, 0, "\(name): the collector exported nothing")
                }
            case 400:
                XCTAssertThrowsError(try OTLPJSONDecoder.decode(input), "\(name): the collector refused this body")
            default:
                XCTFail("\(name): unexpected recorded status \(answer.status)")
            }
        }
    }
}
