import Foundation
import NIOCore
import NIOHTTP1
import TraceModel
import XCTest

@testable import TracePipe

/// Component behaviour checked against the collector's recorded answers in ../shared/conformance.
final class ComponentOutputTests: XCTestCase {
    static let conformance = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/conformance")

    func input(_ area: String, _ name: String) throws -> TraceData {
        var bytes = Array(try Data(contentsOf: Self.conformance.appendingPathComponent("\(area)/\(name)")))
        if bytes.last == 0x0A { bytes.removeLast() }
        return try OTLPJSONDecoder.decode(bytes)
    }

    /// The message of the last log entry in a recorded debug-exporter stderr file (between the
    /// level and the trailing JSON fields).
    func recordedMessage(_ name: String) throws -> String {
        let text = try String(contentsOf: Self.conformance.appendingPathComponent("debug-exporter/\(name)"), encoding: .utf8)
        let entries = text.components(separatedBy: "<TIMESTAMP>\tinfo\t").filter { !$0.isEmpty }
        let last = try XCTUnwrap(entries.last)
        return String(last[..<last.range(of: "\t{", options: .backwards)!.lowerBound])
    }

    func testDebugExporterNormalLayout() throws {
        let data = try input("debug-exporter", "02-verbosity-normal.input.json")
        XCTAssertEqual(TraceTextFormat.normal(data), try recordedMessage("02-verbosity-normal.expected.stderr.txt"))
    }

    func testDebugExporterDetailedLayout() throws {
        let data = try input("debug-exporter", "03-verbosity-detailed.input.json")
        XCTAssertEqual(TraceTextFormat.detailed(data), try recordedMessage("03-verbosity-detailed.expected.stderr.txt"))
    }

    func testLogSamplerPassesInitialThenEveryNth() {
        let s = LogSampler(initial: 2, thereafter: 3)
        let t = Date(timeIntervalSince1970: 1000)
        let passed = (0..<10).map { _ in s.allow(now: t) }
        XCTAssertEqual(passed, [true, true, false, false, true, false, false, true, false, false])
        XCTAssertTrue(s.allow(now: t.addingTimeInterval(1)), "a new second starts a new tick")
    }

    struct RecordedAnswer: Decodable {
        var status: Int
        var body: String
        var content_type: String
        var headers: [String: String]?
    }

    struct RecordedRequest: Decodable {
        var method: String
        var path: String
        var config: String?
    }

    func testHealthCheckAnswersMatchTheCollector() throws {
        let dir = Self.conformance.appendingPathComponent("health-check")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".request.json") }.sorted()
        XCTAssertEqual(names.count, 9)
        let since = Date(timeIntervalSince1970: 1_700_000_000.5)
        for name in names {
            let base = String(name.dropLast(".request.json".count))
            let req = try JSONDecoder().decode(RecordedRequest.self, from: Data(contentsOf: dir.appendingPathComponent(name)))
            let want = try JSONDecoder().decode(RecordedAnswer.self, from: Data(contentsOf: dir.appendingPathComponent("\(base).expected.json")))
            var config = HealthCheckConfig()
            if req.config != nil { config.path = "/health/status" }
            let request = HTTPRequest(method: HTTPMethod(rawValue: req.method), uri: req.path, headers: [:], body: ByteBuffer())
            let got = HealthCheckExtension.answer(request, config: config, state: .ready(since: since), now: since.addingTimeInterval(62.25))
            XCTAssertEqual(Int(got.status.code), want.status, base)
            XCTAssertEqual(got.headers.first(name: "Content-Type"), want.content_type, base)
            let body = String(buffer: got.body)
                .replacingOccurrences(of: "2023-11-14T22:13:20.5Z", with: "<RFC3339NANO>")
                .replacingOccurrences(of: "1m2.25s", with: "<GO_DURATION>")
            XCTAssertEqual(body, want.body, base)
        }
    }

    func testHealthCheckIsUnavailableWhileStartingAndStopping() {
        let request = HTTPRequest(method: .GET, uri: "/", headers: [:], body: ByteBuffer())
        for state in [ServiceStatus.State.starting, .stopping] {
            let r = HealthCheckExtension.answer(request, config: HealthCheckConfig(), state: state)
            XCTAssertEqual(r.status, .serviceUnavailable)
            XCTAssertEqual(String(buffer: r.body), #"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#)
        }
    }

    func testFileSinkRotatesLikeTheCollector() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-rot-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rotation = FileExporterConfig.Rotation()
        rotation.maxMegabytes = 1
        rotation.maxBackups = 2
        let path = dir.appendingPathComponent("traces.json").path
        let sink = FileSink(path: path, append: false, rotation: rotation)
        try await sink.open()
        let line = Array(repeating: UInt8(ascii: "x"), count: 400_562) + [0x0A]
        for _ in 0..<8 {
            try await sink.write(line)
            try await sink.flush()
        }
        try await sink.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(names.count, 3, "\(names)")
        XCTAssertTrue(names.contains("traces.json"))
        let backups = names.filter { $0 != "traces.json" }
        for b in backups {
            XCTAssertNotNil(b.range(of: #"^traces-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}-size\.json$"#, options: .regularExpression), b)
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(b).path)[.size] as? Int, 801_126)
        }
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, 801_126)
    }

    func testFileSinkAppendsOrTruncates() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-app-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sub/out.jsonl").path
        for append in [false, true, true] {
            let sink = FileSink(path: path, append: append, rotation: nil)
            try await sink.open()
            try await sink.write(Array("{}\n".utf8))
            try await sink.close()
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "{}\n{}\n{}\n")
        let sink = FileSink(path: path, append: false, rotation: nil)
        try await sink.open()
        try await sink.close()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "", "append: false truncates")
    }
}
