import Foundation
import TestSupport
import TraceModel
import XCTest

/// `docs/grafana-dashboard.json` must only query metrics tracepipe serves: a binary with every
/// component the dashboard covers takes traffic, and each metric the dashboard names must be
/// in its `/metrics`.
final class GrafanaDashboardTests: XCTestCase {
    static let dashboard = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/grafana-dashboard.json")

    /// Every PromQL expression in the dashboard (panel targets and template queries).
    func expressions() throws -> [String] {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.dashboard))
        var out: [String] = []
        func walk(_ v: Any) {
            if let d = v as? [String: Any] {
                for (k, x) in d {
                    if (k == "expr" || k == "query"), let s = x as? String { out.append(s) } else { walk(x) }
                }
            } else if let a = v as? [Any] {
                a.forEach(walk)
            }
        }
        walk(root)
        return out
    }

    /// Metric names in an expression, histogram series mapped to their family.
    func metricNames(in expr: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: #"\b(otelcol|tracepipe)_[a-z_]+"#)
        var names = Set<String>()
        for m in regex.matches(in: expr, range: NSRange(expr.startIndex..., in: expr)) {
            var name = String(expr[Range(m.range, in: expr)!])
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                name.removeLast(suffix.count)
            }
            names.insert(name)
        }
        return names
    }

    func testEveryQueriedMetricIsServed() async throws {
        let exprs = try expressions()
        let queried = exprs.reduce(into: Set<String>()) { $0.formUnion(metricNames(in: $1)) }
        XCTAssertGreaterThan(queried.count, 15, "the dashboard should cover the pipeline: \(queried.sorted())")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-dash-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let otlp = TestHTTPClient.freePort(), health = TestHTTPClient.freePort(), metricsPort = TestHTTPClient.freePort()
        let tempo = try await FakeTempo.start()
        let path = dir.appendingPathComponent("c.yaml").path
        try """
            extensions: {health_check: {endpoint: "127.0.0.1:\(health)"}}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlp)"}}}}
            processors:
              probabilistic_sampler: {sampling_percentage: 100}
              tail_sampling: {decision_wait: 100ms, policies: [{name: all, type: always_sample}]}
              batch: {timeout: 50ms}
            exporters: {otlphttp: {endpoint: "http://127.0.0.1:\(tempo.port)"}}
            service:
              extensions: [health_check]
              telemetry:
                metrics:
                  level: normal
                  readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: \(metricsPort)}}}}]
              pipelines:
                traces: {receivers: [otlp], processors: [probabilistic_sampler, tail_sampling, batch], exporters: [otlphttp]}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path], ownMetrics: true)
        try tp.waitHealthy(port: health)
        XCTAssertEqual(try TestHTTPClient.request(port: otlp, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"],
                                                  body: OTLPJSONEncoder.encode(TestData.request(trace: 42, spans: 5))).status, 200)
        let delivered = await tempo.wait { $0.spans.count == 5 }
        XCTAssertTrue(delivered, tp.log)

        // The exporter records a send's duration after Tempo answered, so Tempo can hold the spans
        // a moment before /metrics shows that send: poll until the histograms have their observation.
        let batchObserved = #"otelcol_processor_batch_batch_send_size_count{processor="batch"} 1"#
        let sendObserved = #"tracepipe_exporter_send_duration_seconds_count{exporter="otlphttp"} 1"#
        var metrics = ""
        _ = await eventually(timeout: .seconds(10)) {
            metrics = (try? TestHTTPClient.request(port: metricsPort, path: "/metrics").text) ?? ""
            return metrics.contains(batchObserved) && metrics.contains(sendObserved)
        }
        let served = Set(metrics.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("# TYPE ") else { return nil }
            return line.split(separator: " ").dropFirst(2).first.map(String.init)
        })
        for name in queried.sorted() {
            XCTAssertTrue(served.contains(name), "the dashboard queries \(name), which tracepipe does not serve")
        }
        // The histograms the dashboard reads quantiles from carry observations.
        XCTAssertTrue(metrics.contains(batchObserved), metrics)
        XCTAssertTrue(metrics.contains(sendObserved), metrics)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }
}
