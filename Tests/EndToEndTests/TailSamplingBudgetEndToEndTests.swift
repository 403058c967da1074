import Foundation
import NIOConcurrencyHelpers
import TestSupport
import TraceModel
import XCTest

/// A burst far above tail sampling's byte budget through the real binary: memory stays bounded
/// (its own metrics and /proc say so), what does not fit is answered 503 — never 200 and
/// dropped — and every span answered 200 reaches the exporter.
final class TailSamplingBudgetEndToEndTests: XCTestCase {
    func request(_ n: Int, traces: Int, spans: Int) -> TraceData {
        let padding = String(repeating: "p", count: 300)
        var list: [Span] = []
        for t in 0..<traces {
            let trace = UInt64(n * traces + t + 1)
            for i in 0..<spans {
                list.append(Span(traceID: TraceID(high: trace &* 0x9E37_79B9_7F4A_7C15, low: trace), spanID: SpanID(trace << 8 | UInt64(i + 1)),
                                 name: "op", kind: .server, startTimeUnixNano: 1, endTimeUnixNano: 2,
                                 attributes: [KeyValue("payload", .string(padding)), KeyValue("n", .int(Int64(i)))]))
            }
        }
        return TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string("burst"))]),
                                                       scopeSpans: [ScopeSpans(spans: list)])])
    }

    func status(_ pid: Int32, _ field: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }

    func testABurstFarAboveTheBudgetIsRefusedNotLostAndMemoryStaysBounded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-tail-budget-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let otlp = TestHTTPClient.freePort(), health = TestHTTPClient.freePort(), metricsPort = TestHTTPClient.freePort()
        let out = dir.appendingPathComponent("out.jsonl")
        let path = dir.appendingPathComponent("c.yaml").path
        try """
            extensions: {health_check: {endpoint: "127.0.0.1:\(health)"}}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlp)"}}}}
            processors:
              tail_sampling:
                decision_wait: 300ms
                num_traces: 1000000
                max_waiting_mib: 4
                policies: [{name: all, type: always_sample}]
            exporters: {file: {path: "\(out.path)"}}
            service:
              extensions: [health_check]
              telemetry: {metrics: {readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: \(metricsPort)}}}}]}}
              pipelines: {traces: {receivers: [otlp], processors: [tail_sampling], exporters: [file]}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path], ownMetrics: true)
        try tp.waitHealthy(port: health)
        let pid = tp.process.processIdentifier
        let baseRSS = status(pid, "VmRSS")

        // The budget's own gauges, read while the burst runs.
        struct Watch { var finished = false, maxWaiting = 0.0, budget = 0.0 }
        let watch = NIOLockedValueBox(Watch())
        let watcher = Thread {
            while !watch.withLockedValue({ $0.finished }) {
                if let text = try? TestHTTPClient.request(port: metricsPort, path: "/metrics").text {
                    var sum = 0.0, budget = 0.0
                    for line in text.split(separator: "\n") {
                        if line.hasPrefix("tracepipe_processor_tail_sampling_waiting_bytes{") { sum += Double(line.split(separator: " ").last!) ?? 0 }
                        if line.hasPrefix("tracepipe_processor_tail_sampling_max_waiting_bytes{") { budget = Double(line.split(separator: " ").last!) ?? 0 }
                    }
                    watch.withLockedValue {
                        $0.maxWaiting = max($0.maxWaiting, sum)
                        $0.budget = budget
                    }
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        watcher.start()

        // 4 senders × 60 requests of 100 traces × 5 spans with 300-byte values: ~600 B of memory
        // a span, ~300 KB a request, ~70 MB in all against a 4 MiB budget.
        let senders = 4, perSender = 60
        let bodies = (0..<senders * perSender).map { OTLPProtobufEncoder.encode(request($0, traces: 100, spans: 5)) }
        let answers = NIOLockedValueBox(Array(repeating: 0, count: bodies.count))
        DispatchQueue.concurrentPerform(iterations: senders) { s in
            for k in 0..<perSender {
                let n = s * perSender + k
                let code = (try? TestHTTPClient.request(port: otlp, method: "POST", path: "/v1/traces",
                                                        headers: ["Content-Type": "application/x-protobuf"], body: bodies[n]).status) ?? -1
                answers.withLockedValue { $0[n] = code }
            }
        }
        let peakRSS = status(pid, "VmHWM")
        watch.withLockedValue { $0.finished = true }
        Thread.sleep(forTimeInterval: 0.2)
        let statuses = answers.withLockedValue { $0 }
        let accepted = statuses.indices.filter { statuses[$0] == 200 }
        let refused = statuses.indices.filter { statuses[$0] == 503 }
        XCTAssertEqual(accepted.count + refused.count, bodies.count, "only 200 or 503: \(Set(statuses))")
        XCTAssertGreaterThan(refused.count, bodies.count / 4, "far above the budget: many requests refused")
        XCTAssertGreaterThan(accepted.count, 10)
        let seen = watch.withLockedValue { $0 }
        print("tail-sampling burst: \(accepted.count) requests answered 200, \(refused.count) answered 503; waiting bytes at most \(Int(seen.maxWaiting)); RSS \(baseRSS) KiB at start, peak \(peakRSS) KiB")
        XCTAssertEqual(seen.budget, 4 * 1_048_576)
        XCTAssertGreaterThan(seen.maxWaiting, 0)
        XCTAssertLessThanOrEqual(seen.maxWaiting, 4 * 1_048_576, "the shards never held more than the budget")
        // The process grew by far less than the ~70 MB sent (the budget, buffers, the exporter).
        XCTAssertLessThan(peakRSS - baseRSS, 48 * 1024, "peak RSS grew \(peakRSS - baseRSS) KiB from \(baseRSS) KiB")

        // Every span answered 200 is exported, none of a request answered 503.
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        var exported = Set<UInt64>()
        for line in try String(contentsOf: out, encoding: .utf8).split(separator: "\n") {
            for s in try OTLPJSONDecoder.decode(String(line)).resourceSpans.flatMap({ $0.scopeSpans.flatMap(\.spans) }) {
                exported.insert(s.spanID.value)
            }
        }
        XCTAssertEqual(exported.count, accepted.count * 500)
        for n in accepted.prefix(5) + refused.prefix(5) {
            let first = request(n, traces: 100, spans: 5).resourceSpans[0].scopeSpans[0].spans[0].spanID.value
            XCTAssertEqual(exported.contains(first), statuses[n] == 200, "request \(n) answered \(statuses[n])")
        }
    }
}
