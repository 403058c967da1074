import Foundation
import TestSupport
import TraceModel
import XCTest

/// The own-metrics endpoint through the real binary: names, labels and exact counts.
final class OwnMetricsTests: XCTestCase {
    func value(_ metrics: String, _ series: String) -> Double? {
        for line in metrics.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// N spans through a 30 % sampler: accepted = N, sent + dropped by sampling = N.
    func testCountsAreExact() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-metrics-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let otlp = TestHTTPClient.freePort(), health = TestHTTPClient.freePort(), metricsPort = TestHTTPClient.freePort()
        let path = dir.appendingPathComponent("c.yaml").path
        try """
            extensions: {health_check: {endpoint: "127.0.0.1:\(health)"}}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlp)"}}}}
            processors: {probabilistic_sampler: {sampling_percentage: 30}}
            exporters: {file: {path: "\(dir.appendingPathComponent("out.jsonl").path)"}}
            service:
              extensions: [health_check]
              telemetry:
                metrics:
                  level: normal
                  readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: \(metricsPort)}}}}]
              pipelines: {traces: {receivers: [otlp], processors: [probabilistic_sampler], exporters: [file]}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path], ownMetrics: true)
        try tp.waitHealthy(port: health)
        var sent = 0
        for k in 0..<40 {
            let data = TestData.request(trace: UInt64(k * 7919 + 13), spans: 25)
            XCTAssertEqual(try TestHTTPClient.request(port: otlp, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"],
                                                      body: OTLPJSONEncoder.encode(data)).status, 200)
            sent += 25
        }
        let r = try TestHTTPClient.request(port: metricsPort, path: "/metrics")
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.header("Content-Type")?.hasPrefix("text/plain") == true)
        let m = r.text
        let accepted = value(m, #"otelcol_receiver_accepted_spans{receiver="otlp",transport="http"}"#)
        let exported = value(m, #"otelcol_exporter_sent_spans{exporter="file"}"#)
        let kept = value(m, #"otelcol_processor_probabilistic_sampler_count_traces_sampled{processor="probabilistic_sampler",policy="trace_id_hash",sampled="true"}"#)
        let dropped = value(m, #"otelcol_processor_probabilistic_sampler_count_traces_sampled{processor="probabilistic_sampler",policy="trace_id_hash",sampled="false"}"#)
        XCTAssertEqual(accepted, Double(sent), m)
        XCTAssertEqual(exported, kept, m)
        XCTAssertEqual((exported ?? 0) + (dropped ?? 0), Double(sent), m)
        XCTAssertGreaterThan(exported ?? 0, 0)
        for name in ["otelcol_process_uptime", "otelcol_process_memory_rss", "otelcol_process_cpu_seconds", "otelcol_receiver_refused_spans",
                     "otelcol_process_runtime_heap_alloc_bytes", "otelcol_process_runtime_total_sys_memory_bytes"] {
            XCTAssertTrue(m.contains("# TYPE \(name) "), "\(name) missing:\n\(m)")
        }
        let heap = value(m, "otelcol_process_runtime_heap_alloc_bytes") ?? 0
        let rss = value(m, "otelcol_process_memory_rss") ?? 0
        XCTAssertTrue(heap > 1_000_000 && heap < rss, "heap in use \(heap) is part of RSS \(rss)")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
    }
}

/// Health that reflects delivery: 503 while Tempo is unreachable, 200 again once it is back.
final class HonestHealthTests: XCTestCase {
    func testHealthFollowsExporterDelivery() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-health-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let otlp = TestHTTPClient.freePort(), health = TestHTTPClient.freePort(), tempoPort = TestHTTPClient.freePort()
        let path = dir.appendingPathComponent("c.yaml").path
        try """
            extensions:
              health_check:
                endpoint: "127.0.0.1:\(health)"
                path: /health
                check_collector_pipeline: {enabled: true, interval: 30s, exporter_failure_threshold: 2}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlp)"}}}}
            exporters:
              otlphttp/tempo:
                endpoint: http://127.0.0.1:\(tempoPort)
                retry_on_failure: {initial_interval: 100ms, max_interval: 200ms}
            service:
              extensions: [health_check]
              pipelines: {traces: {receivers: [otlp], exporters: [otlphttp/tempo]}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path])
        try tp.waitHealthy(port: health, path: "/health")
        XCTAssertEqual(try TestHTTPClient.request(port: otlp, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"],
                                                  body: OTLPJSONEncoder.encode(TestData.request(trace: 1, spans: 2))).status, 200)
        var unhealthy: TestHTTPResponse?
        for _ in 0..<100 {
            let r = try TestHTTPClient.request(port: health, path: "/health")
            if r.status == 503 { unhealthy = r; break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let down = try XCTUnwrap(unhealthy, "health never reported the failing exporter\n\(tp.log)")
        XCTAssertTrue(down.text.contains("otlphttp/tempo"), down.text)
        XCTAssertEqual(try TestHTTPClient.request(port: health, path: "/health/livez").status, 200, "liveness stays up")
        let detail = try TestHTTPClient.request(port: health, path: "/health/status")
        XCTAssertEqual(detail.status, 503)
        XCTAssertTrue(detail.text.contains(#""id":"otlphttp/tempo","healthy":false"#) && detail.text.contains("cannot connect"), detail.text)

        let tempo = try await FakeTempo.start(port: tempoPort)
        let delivered = await tempo.wait { $0.spans.count == 2 }
        XCTAssertTrue(delivered)
        // Health follows the exporter's record of a success, which comes after Tempo holds the spans.
        let healthyAgain = await eventually(timeout: .seconds(10)) { (try? TestHTTPClient.request(port: health, path: "/health").status) == 200 }
        XCTAssertTrue(healthyAgain, "healthy again once delivery recovers\n\(tp.log)")
        XCTAssertEqual(tp.terminate(), 0)
        await tempo.stop()
    }
}
