import Foundation
import TraceModel
import TestSupport
import XCTest

/// Starts the real binary on free loopback ports, sends it traces over HTTP and checks what
/// comes out of the file exporter, the answers, the health endpoint and the shutdown.
final class PipelineEndToEndTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-e2e-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func writeConfig(_ yaml: String) throws -> String {
        let path = dir.appendingPathComponent("config-\(UUID()).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func request(traceLow: UInt64, spans: Int) -> TraceData {
        let spanList = (0..<spans).map { i in
            Span(traceID: TraceID(high: 0xABCD, low: traceLow), spanID: SpanID(UInt64(i + 1)), name: "op-\(i)", kind: .server,
                 startTimeUnixNano: 1_700_000_000_000_000_000, endTimeUnixNano: 1_700_000_000_100_000_000,
                 attributes: [KeyValue("http.route", .string("/items/{id}")), KeyValue("n", .int(Int64(i)))])
        }
        return TraceData(resourceSpans: [ResourceSpans(
            resource: Resource(attributes: [KeyValue("service.name", .string("e2e"))]),
            scopeSpans: [ScopeSpans(scope: InstrumentationScope(name: "test"), spans: spanList)]
        )])
    }

    func testTracesFlowToFileAndConsoleAndNothingIsLostOnShutdown() throws {
        let otlpPort = TestHTTPClient.freePort()
        let healthPort = TestHTTPClient.freePort()
        let out = dir.appendingPathComponent("out/traces.jsonl")
        let config = try writeConfig("""
            extensions:
              health_check:
                endpoint: 127.0.0.1:\(healthPort)
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:\(otlpPort)
                    max_request_body_size: 100000
            exporters:
              debug:
                verbosity: normal
              file/main:
                path: \(out.path)
                flush_interval: 1h
            service:
              extensions: [health_check]
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [debug, file/main]
            """)
        let tp = try TracePipeProcess(arguments: ["--config", config])
        try tp.waitHealthy(port: healthPort)

        let health = try TestHTTPClient.request(port: healthPort, path: "/")
        XCTAssertEqual(health.status, 200)
        XCTAssertTrue(health.text.hasPrefix(#"{"status":"Server available","upSince":""#), health.text)

        var sent: [TraceData] = []
        for k in 0..<20 {
            let data = Self.request(traceLow: UInt64(k + 1), spans: 5)
            let r = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces",
                                               headers: ["Content-Type": "application/json"], body: OTLPJSONEncoder.encode(data))
            XCTAssertEqual(r.status, 200, r.text)
            XCTAssertEqual(r.text, #"{"partialSuccess":{}}"#)
            XCTAssertEqual(r.header("Content-Type"), "application/json")
            sent.append(data)
        }

        // Bad input gets clear answers and the server keeps serving.
        let bad = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"],
                                             body: Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#.utf8))
        XCTAssertEqual(bad.status, 400)
        XCTAssertTrue(bad.text.contains(#""code":3"#) && bad.text.contains("resourceSpans[0].scopeSpans[0].spans[0].traceId"), bad.text)
        let get = try TestHTTPClient.request(port: otlpPort, method: "GET", path: "/v1/traces")
        XCTAssertEqual(get.status, 405)
        XCTAssertEqual(get.text, "405 method not allowed, supported: [POST]")
        let text = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: ["Content-Type": "text/plain"], body: [1])
        XCTAssertEqual(text.status, 415)
        let wrongPath = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/metrics", headers: ["Content-Type": "application/json"], body: [1])
        XCTAssertEqual(wrongPath.status, 404)
        let huge = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"],
                                              body: Array(repeating: UInt8(ascii: " "), count: 300_000))
        XCTAssertEqual(huge.status, 400)
        XCTAssertTrue(huge.text.contains("request body too large"), huge.text)
        let charset = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces",
                                                 headers: ["Content-Type": "application/json; charset=utf-8"], body: Array("{}".utf8))
        XCTAssertEqual(charset.status, 200)

        XCTAssertEqual(tp.terminate(), 0, tp.log)

        // flush_interval is an hour: everything in the file was flushed by the shutdown.
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, sent.count)
        let got = try lines.map { try OTLPJSONDecoder.decode(String($0)) }
        XCTAssertEqual(got, sent)
        XCTAssertEqual(got.map(\.spanCount).reduce(0, +), 100)

        let log = tp.log
        XCTAssertTrue(log.contains("OTLP/HTTP receiver listening"), log)
        XCTAssertTrue(log.contains("127.0.0.1:\(otlpPort)"), log)
        XCTAssertTrue(log.contains("\"resource spans\": 1, \"spans\": 5"), log)
        XCTAssertTrue(log.contains("op-4 000000000000abcd0000000000000001 0000000000000005 http.route=/items/{id} n=4"), log)
        XCTAssertTrue(log.contains("shutdown complete"), log)
    }

    func testOneReceiverFeedsTwoPipelines() throws {
        let otlpPort = TestHTTPClient.freePort()
        let healthPort = TestHTTPClient.freePort()
        let a = dir.appendingPathComponent("a.jsonl")
        let b = dir.appendingPathComponent("b.jsonl")
        let config = try writeConfig("""
            extensions: {health_check: {endpoint: "127.0.0.1:\(healthPort)", path: /ready}}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlpPort)", traces_url_path: /custom}}}}
            exporters:
              file/a: {path: "\(a.path)"}
              file/b: {path: "\(b.path)"}
            service:
              extensions: [health_check]
              pipelines:
                traces/a: {receivers: [otlp], exporters: [file/a]}
                traces/b: {receivers: [otlp], exporters: [file/b, file/a]}
            """)
        let tp = try TracePipeProcess(arguments: ["--config", config])
        try tp.waitHealthy(port: healthPort, path: "/ready")
        XCTAssertEqual(try TestHTTPClient.request(port: healthPort, path: "/").status, 404)
        let body = OTLPJSONEncoder.encode(Self.request(traceLow: 7, spans: 3))
        let r = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/custom", headers: ["Content-Type": "application/json"], body: body)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        XCTAssertEqual(try String(contentsOf: a, encoding: .utf8).split(separator: "\n").count, 2, "file/a is in both pipelines")
        XCTAssertEqual(try String(contentsOf: b, encoding: .utf8).split(separator: "\n").count, 1)
    }

    func testStartupFailsClearlyWhenThePortIsTaken() throws {
        let healthPort = TestHTTPClient.freePort()
        let otlpPort = TestHTTPClient.freePort()
        let first = try writeConfig("""
            extensions: {health_check: {endpoint: "127.0.0.1:\(healthPort)"}}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlpPort)"}}}}
            exporters: {debug: }
            service: {extensions: [health_check], pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """)
        let tp = try TracePipeProcess(arguments: ["--config", first])
        try tp.waitHealthy(port: healthPort)
        let second = try writeConfig("""
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlpPort)"}}}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """)
        let result = try TracePipeProcess.run(["--config", second])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.contains("cannot start receiver \"otlp\""), result.output)
        XCTAssertEqual(tp.terminate(), 0)
    }
}
