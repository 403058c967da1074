import Foundation
import TestSupport
import XCTest

final class CommandLineTests: XCTestCase {
    func temp(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tp-cli-\(UUID()).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testValidateAcceptsAGoodConfig() throws {
        let path = try temp("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try TracePipeProcess.run(["validate", "--config", path])
        XCTAssertEqual(r.status, 0, r.output)
    }

    /// Every shipped file validates with the real binary, and validate shows the graph.
    func testEveryShippedConfigValidates() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for dir in ["pipelines", "config"] {
            for f in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(dir).path) where f.hasSuffix(".yaml") {
                let r = try TracePipeProcess.run(["validate", "--config", root.appendingPathComponent("\(dir)/\(f)").path])
                XCTAssertEqual(r.status, 0, "\(dir)/\(f): \(r.output)")
                XCTAssertTrue(r.output.contains("traces: ["), "\(dir)/\(f): \(r.output)")
            }
        }
    }

    func testValidateListsEveryProblem() throws {
        let path = try temp("""
            receivers: {otlp: {protocols: {http: {endpoint: "4318x"}}}, jaeger: {}}
            exporters: {file: {}}
            service: {pipelines: {traces: {receivers: [otlp, jaeger], exporters: [file, nope]}}}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try TracePipeProcess.run(["validate", "--config", path])
        XCTAssertEqual(r.status, 1)
        for expected in [
            #"receivers.otlp.protocols.http.endpoint: expected host:port, got "4318x""#,
            "receivers.jaeger: component type \"jaeger\" is not supported",
            "exporters.file.path: required",
            #"service.pipelines.traces.exporters[1]: references exporter "nope" which is not configured"#,
            "--skip-unsupported",
        ] {
            XCTAssertTrue(r.output.contains(expected), "missing \(expected) in:\n\(r.output)")
        }
    }

    func testComponentsAndVersion() throws {
        let c = try TracePipeProcess.run(["components"])
        XCTAssertEqual(c.status, 0)
        for t in ["otlp", "debug (also: logging)", "file", "health_check"] {
            XCTAssertTrue(c.output.contains(t), c.output)
        }
        let v = try TracePipeProcess.run(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertTrue(v.output.contains("0.1.0"), v.output)
    }

    /// With no --config, tracepipe runs its default config (the fixed ports 4318 and 13133).
    func testRunsTheDefaultConfigWithNoArguments() throws {
        guard TestHTTPClient.isFree(4318), TestHTTPClient.isFree(13133), TestHTTPClient.isFree(8888) else {
            throw XCTSkip("ports 4318/13133/8888 are in use on this machine")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-default-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tp = try TracePipeProcess(arguments: [], workingDirectory: dir)
        try tp.waitHealthy(port: 13133)
        let r = try TestHTTPClient.request(port: 4318, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"],
                                           body: Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x"}]}]}]}"#.utf8))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        let written = try String(contentsOf: dir.appendingPathComponent("data/traces.jsonl"), encoding: .utf8)
        XCTAssertTrue(written.contains("eee19b7ec3c1b174"), written)
        XCTAssertTrue(tp.log.contains("\"spans\": 1"), tp.log)
    }
}
