import Foundation
import TestSupport
import TraceModel
import XCTest

/// Tail sampling through the real binary: errors and slow traces kept whole, ~5 % of the rest,
/// late spans following their trace's decision, and a burst beyond num_traces staying bounded.
final class SamplingEndToEndTests: XCTestCase {
    func randomTrace(_ n: UInt64, spans: Int, error: Bool = false, slow: Bool = false) -> TraceData {
        var z = n &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        let id = TraceID(high: z ^ (z >> 27), low: n)
        let list = (0..<spans).map { i in
            Span(traceID: id, spanID: SpanID(n << 8 | UInt64(i + 1)), name: "op", kind: .server,
                 startTimeUnixNano: 1_700_000_000_000_000_000, endTimeUnixNano: 1_700_000_000_000_000_000 + (slow ? 2_000_000_000 : 5_000_000),
                 status: SpanStatus(code: error && i == 1 ? .error : .unset))
        }
        return TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string("e2e"))]),
                                                       scopeSpans: [ScopeSpans(spans: list)])])
    }

    func testTailSamplingThroughTheBinary() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-tail-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let otlp = TestHTTPClient.freePort(), health = TestHTTPClient.freePort()
        let out = dir.appendingPathComponent("out.jsonl")
        let path = dir.appendingPathComponent("c.yaml").path
        try """
            extensions: {health_check: {endpoint: "127.0.0.1:\(health)"}}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlp)"}}}}
            processors:
              tail_sampling:
                decision_wait: 500ms
                num_traces: 2000
                decision_cache: {sampled_cache_size: 10000, non_sampled_cache_size: 10000}
                policies:
                  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
                  - {name: slow, type: latency, latency: {threshold_ms: 1000}}
                  - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 5}}
            exporters: {file: {path: "\(out.path)"}}
            service:
              extensions: [health_check]
              pipelines: {traces: {receivers: [otlp], processors: [tail_sampling], exporters: [file]}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path])
        try tp.waitHealthy(port: health)
        func post(_ d: TraceData) throws {
            XCTAssertEqual(try TestHTTPClient.request(port: otlp, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/x-protobuf"],
                                                      body: OTLPProtobufEncoder.encode(d)).status, 200)
        }
        // 20 error traces, 20 slow ones, 1000 normal ones; each trace's spans in two requests.
        var all: [TraceData] = []
        for i in 0..<20 { all.append(randomTrace(UInt64(10_000 + i), spans: 4, error: true)) }
        for i in 0..<20 { all.append(randomTrace(UInt64(20_000 + i), spans: 4, slow: true)) }
        for i in 0..<1000 { all.append(randomTrace(UInt64(i + 1), spans: 2)) }
        for t in all {
            let spans = t.resourceSpans[0].scopeSpans[0].spans
            var first = t, second = t
            first.resourceSpans[0].scopeSpans[0].spans = Array(spans.prefix(spans.count / 2))
            second.resourceSpans[0].scopeSpans[0].spans = Array(spans.suffix(spans.count - spans.count / 2))
            try post(first)
            try post(second)
        }
        Thread.sleep(forTimeInterval: 1.5)
        // Late spans: one for a kept error trace, one for a normal trace (kept or not, it follows).
        try post(randomTrace(10_000, spans: 1))
        Thread.sleep(forTimeInterval: 0.3)
        // A burst beyond num_traces: 3000 new single-span traces; the table stays bounded.
        for i in 0..<3000 { try post(randomTrace(UInt64(100_000 + i), spans: 1)) }
        XCTAssertEqual(tp.terminate(), 0, tp.log)

        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        var byTrace: [UInt64: Int] = [:]
        for l in lines {
            for s in try OTLPJSONDecoder.decode(String(l)).resourceSpans.flatMap({ $0.scopeSpans.flatMap(\.spans) }) {
                byTrace[s.traceID.low, default: 0] += 1
            }
        }
        for i in 0..<20 {
            XCTAssertEqual(byTrace[UInt64(20_000 + i)], 4, "slow trace \(i) kept whole")
        }
        XCTAssertEqual(byTrace[10_000], 5, "error trace kept whole, plus its late span")
        for i in 1..<20 { XCTAssertEqual(byTrace[UInt64(10_000 + i)], 4, "error trace \(i) kept whole") }
        let normal = (1...1000).filter { byTrace[UInt64($0)] != nil }
        XCTAssertTrue(normal.allSatisfy { byTrace[UInt64($0)] == 2 }, "normal traces kept whole")
        XCTAssertTrue((20...90).contains(normal.count), "about 5 % of 1000: \(normal.count)")
    }
}
