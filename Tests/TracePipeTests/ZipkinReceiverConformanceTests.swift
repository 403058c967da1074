import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TraceModel
import XCTest

@testable import TracePipe

/// Every recorded Zipkin case (v2 and v1): the receiver's answer and what it passes on,
/// compared with what the collector exported (attributes as sets, spans by id — the
/// collector's order there comes from Go maps).
final class ZipkinReceiverConformanceTests: XCTestCase {
    struct Answer: Decodable {
        var status: Int
        var body: String
    }

    struct Request: Decodable {
        var method: String?
        var path: String?
        var headers: [String: String]?
    }

    final class Collect: TraceConsumer, @unchecked Sendable {
        // Written by the one request a test makes at a time.
        var received: [TraceData] = []
        func consume(_ data: consuming TraceData) async throws { received.append(data) }
    }

    /// Sorts what the collector emits in random order so that equal data compares equal.
    static func normalize(_ value: Any) -> Any {
        if var dict = value as? [String: Any] {
            for (k, v) in dict { dict[k] = normalize(v) }
            if var spans = dict["spans"] as? [[String: Any]] {
                spans.sort { ($0["spanId"] as? String ?? "") < ($1["spanId"] as? String ?? "") }
                dict["spans"] = spans
            }
            if var attrs = dict["attributes"] as? [[String: Any]] {
                attrs.sort { ($0["key"] as? String ?? "") < ($1["key"] as? String ?? "") }
                dict["attributes"] = attrs
            }
            return dict
        }
        if let array = value as? [Any] { return array.map(normalize) }
        return value
    }

    func run(_ area: String, defaultPath: String) async throws {
        let dir = ComponentOutputTests.conformance.appendingPathComponent(area)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".expected.http.json") }.sorted()
        XCTAssertGreaterThan(names.count, 5)
        var compared = 0
        defer { XCTAssertGreaterThan(compared, names.count / 2, "most cases export something to compare") }
        for name in names {
            let base = String(name.dropLast(".expected.http.json".count))
            var config = ZipkinReceiverConfig()
            if let yaml = try? String(contentsOf: dir.appendingPathComponent("\(base).config.yaml"), encoding: .utf8), yaml.contains("parse_string_tags: true") {
                config.parseStringTags = true
            }
            let req = (try? JSONDecoder().decode(Request.self, from: Data(contentsOf: dir.appendingPathComponent("\(base).request.json")))) ?? Request()
            let inputURL = [".input.json", ".input.bin"].map { dir.appendingPathComponent(base + $0) }.first { FileManager.default.fileExists(atPath: $0.path) }!
            var body = Array(try Data(contentsOf: inputURL))
            if inputURL.pathExtension == "json", body.last == 0x0A { body.removeLast() }
            var headers = HTTPHeaders([("Content-Type", "application/json")])
            for (k, v) in req.headers ?? [:] { headers.replaceOrAdd(name: k, value: v) }
            let want = try JSONDecoder().decode(Answer.self, from: Data(contentsOf: dir.appendingPathComponent(name)))
            let sink = Collect()
            let context = ComponentContext(id: ComponentID(type: "zipkin"), kind: .receiver, logger: .init(label: "t"),
                                           eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
            let receiver = ZipkinReceiver(config: config, context: context, next: sink)
            let got = await receiver.handle(HTTPRequest(method: HTTPMethod(rawValue: req.method ?? "POST"), uri: req.path ?? defaultPath,
                                                        headers: headers, body: ByteBuffer(bytes: body)))
            if base.hasPrefix("06-thrift") {
                // Thrift is not supported: a clear 415 instead of the collector's thrift decoder error.
                XCTAssertEqual(got.status, .unsupportedMediaType, base)
                continue
            }
            XCTAssertEqual(Int(got.status.code), want.status, "\(base): \(String(buffer: got.body))")
            if want.status == 202 {
                XCTAssertEqual(got.body.readableBytes, 0, base)
                let expectedURL = dir.appendingPathComponent("\(base).expected.json")
                guard FileManager.default.fileExists(atPath: expectedURL.path) else { continue }
                let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: expectedURL))
                let expectedSpans = ((expected as? [String: Any])?["resourceSpans"] as? [Any])?.isEmpty ?? true
                if expectedSpans {
                    // The collector exports an empty request for `[]`; tracepipe passes nothing on.
                    XCTAssertEqual(sink.received.count, 0, base)
                    continue
                }
                XCTAssertEqual(sink.received.count, 1, base)
                guard let data = sink.received.first else { continue }
                let ours = try JSONSerialization.jsonObject(with: Data(OTLPJSONEncoder.encode(data)))
                let a = try XCTUnwrap(Self.normalize(ours) as? NSDictionary)
                let b = try XCTUnwrap(Self.normalize(expected) as? NSDictionary)
                compared += 1
                XCTAssertEqual(a, b,
                               "\(base):\nours:   \(String(decoding: OTLPJSONEncoder.encode(data), as: UTF8.self))")
            } else {
                XCTAssertEqual(sink.received.count, 0, base)
                let text = String(buffer: got.body)
                XCTAssertTrue(text.hasSuffix("\n") && text.count > 1, "\(base): \(text)")
                let key = want.body.split(separator: ":").first.map(String.init) ?? ""
                if ["unexpected end of JSON input\n", "valid span id required\n"].contains(want.body) || want.body.hasPrefix("strconv") || want.body.hasPrefix("zipkinv1") {
                    XCTAssertTrue(text.contains(key.trimmingCharacters(in: .newlines)), "\(base): \(text) vs \(want.body)")
                }
            }
        }
    }

    func testZipkinV2() async throws {
        try await run("zipkin-v2", defaultPath: "/api/v2/spans")
    }

    func testZipkinV1() async throws {
        try await run("zipkin-v1", defaultPath: "/api/v1/spans")
    }
}
