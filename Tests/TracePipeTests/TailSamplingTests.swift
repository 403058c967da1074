import Foundation
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

final class TailSamplingTests: XCTestCase {
    static func processor(_ yaml: String, next: any TraceConsumer, context: ComponentContext = ProcessorFixture.context("tail_sampling")) throws -> TailSamplingProcessor {
        TailSamplingProcessor(config: try ProcessorFixture.config(yaml, id: "tail_sampling"), context: context, next: next)
    }

    struct Summary: Decodable {
        var sampled_traces: [String: [String]]
    }

    /// All recorded cases: which traces (and which of their spans) are kept.
    func testConformanceVectors() async throws {
        let dir = ComponentOutputTests.conformance.appendingPathComponent("tail-sampling")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".summary.json") }.sorted()
        XCTAssertEqual(names.count, 12)
        for name in names {
            let base = String(name.dropLast(".summary.json".count))
            let yaml = try String(contentsOf: dir.appendingPathComponent("\(base).config.yaml"), encoding: .utf8)
            var input = Array(try Data(contentsOf: dir.appendingPathComponent("\(base).input.json")))
            if input.last == 0x0A { input.removeLast() }
            let want = try JSONDecoder().decode(Summary.self, from: Data(contentsOf: dir.appendingPathComponent(name)))
            let sink = CollectingConsumer()
            let p = try Self.processor(yaml, next: sink)
            try await p.consume(try OTLPJSONDecoder.decode(input))
            await p.decideExpired(now: .now, all: true)
            var got: [String: [String]] = [:]
            for s in await sink.spans { got[s.traceID.hex, default: []].append(s.name) }
            XCTAssertEqual(got.mapValues { $0.sorted() }, want.sampled_traces.mapValues { $0.sorted() }, base)
        }
    }

    /// A trace whose id is random-looking but fixed by `id` (real trace ids are random; FNV-based
    /// sampling of sequential ids would not be representative).
    func trace(_ id: UInt64, spans: Int = 2, error: Bool = false, durationMs: UInt64 = 10) -> TraceData {
        var z = id &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let list = (0..<spans).map { i in
            Span(traceID: TraceID(high: z ^ (z >> 31), low: id), spanID: SpanID(id << 8 | UInt64(i + 1)), name: "s\(i)",
                 startTimeUnixNano: 1_000_000_000, endTimeUnixNano: 1_000_000_000 + durationMs * 1_000_000,
                 status: SpanStatus(code: error && i == 0 ? .error : .unset))
        }
        return TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: list)])])
    }

    static let threePolicies = """
        processors:
          tail_sampling:
            decision_wait: 200ms
            num_traces: 100000
            decision_cache: {sampled_cache_size: 10000, non_sampled_cache_size: 10000}
            policies:
              - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
              - {name: slow, type: latency, latency: {threshold_ms: 1000}}
              - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 5}}
        """

    /// Errors and slow traces kept whole, the rest near 5 %, late spans follow the decision.
    func testErrorsSlowAndAShareOfTheRest() async throws {
        let sink = CollectingConsumer()
        let p = try Self.processor(Self.threePolicies, next: sink)
        try await p.start(ComponentHost(extensions: [:], status: ServiceStatus()))
        for i in 0..<50 { try await p.consume(trace(UInt64(100_000 + i), spans: 3, error: true)) }
        for i in 0..<50 { try await p.consume(trace(UInt64(200_000 + i), spans: 3, durationMs: 1500)) }
        for i in 0..<2000 { try await p.consume(trace(UInt64(i + 1), spans: 2)) }
        try await Task.sleep(for: .milliseconds(600))
        let spans = await sink.spans
        let byTrace = Dictionary(grouping: spans, by: { $0.traceID.low })
        for i in 0..<50 {
            XCTAssertEqual(byTrace[UInt64(100_000 + i)]?.count, 3, "error trace kept whole")
            XCTAssertEqual(byTrace[UInt64(200_000 + i)]?.count, 3, "slow trace kept whole")
        }
        let normal = byTrace.keys.filter { $0 < 100_000 }.count
        XCTAssertTrue((50...150).contains(normal), "about 5 % of 2000 normal traces, got \(normal)")
        // A late span of a sampled trace follows it; one of a dropped trace is dropped.
        let keptNormal = byTrace.keys.first { $0 < 100_000 }!
        let droppedNormal = (1...2000).map(UInt64.init).first { byTrace[$0] == nil }!
        try await p.consume(trace(keptNormal, spans: 1))
        try await p.consume(trace(droppedNormal, spans: 1))
        let after = Dictionary(grouping: await sink.spans, by: { $0.traceID.low })
        XCTAssertEqual(after[keptNormal]?.count, (byTrace[keptNormal]?.count ?? 0) + 1)
        XCTAssertNil(after[droppedNormal])
        await p.shutdown()
    }

    /// More traces than num_traces: the table stays bounded; the oldest are decided early.
    func testABurstBeyondNumTracesStaysBounded() async throws {
        let sink = CollectingConsumer()
        let context = ProcessorFixture.context("tail_sampling")
        let telemetry = context.telemetry
        let p = try Self.processor("""
            processors:
              tail_sampling:
                decision_wait: 1h
                num_traces: 100
                num_shards: 1   # the exact counts below; shards each keep their share
                policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]
            """, next: sink, context: context)
        for i in 0..<1000 { try await p.consume(trace(UInt64(i + 1), spans: 1, error: i % 10 == 0)) }
        let onMemory = Int(telemetry.sample("otelcol_processor_tail_sampling_sampling_traces_on_memory", [("processor", "tail_sampling")]) ?? -1)
        XCTAssertLessThanOrEqual(onMemory, 100)
        XCTAssertEqual(telemetry.sample("otelcol_processor_tail_sampling_sampling_trace_decided_early", [("processor", "tail_sampling")]), 900)
        let early = await sink.spans.count
        XCTAssertEqual(early, 90, "error traces decided early are kept, not lost")
        await p.shutdown()
        let all = await sink.spans.count
        XCTAssertEqual(all, 100, "shutdown decides the rest")
    }

    func testPolicyUnits() {
        let id = TraceID(high: 1, low: 2)
        var t = TraceBuffer()
        t.append(.init(resource: Resource(attributes: [KeyValue("tier", .string("gold"))]), scope: InstrumentationScope(), schemaURLs: ("", ""),
                       spans: [Span(traceID: id, traceState: "a=1,b=2", flags: 1, startTimeUnixNano: 0, endTimeUnixNano: 2_500_000_000,
                                    attributes: [KeyValue("n", .int(42)), KeyValue("ok", .bool(true)), KeyValue("route", .string("/api/v1/x"))])]))
        let now = ContinuousClock.now
        XCTAssertEqual(LatencyPolicy(thresholdMs: 2000, upperThresholdMs: 0).evaluate(id, t, now: now), .sampled)
        XCTAssertEqual(LatencyPolicy(thresholdMs: 1000, upperThresholdMs: 2000).evaluate(id, t, now: now), .notSampled)
        XCTAssertEqual(NumericAttributePolicy(key: "n", min: 40, max: nil, invert: false).evaluate(id, t, now: now), .sampled)
        XCTAssertEqual(NumericAttributePolicy(key: "n", min: 0, max: 10, invert: true).evaluate(id, t, now: now), .invertSampled)
        XCTAssertEqual(BooleanAttributePolicy(key: "ok", value: true, invert: false).evaluate(id, t, now: now), .sampled)
        XCTAssertEqual(StringAttributePolicy(key: "tier", values: ["gold"], regexes: [], invert: false).evaluate(id, t, now: now), .sampled)
        XCTAssertEqual(TraceStatePolicy(key: "b", values: ["2"]).evaluate(id, t, now: now), .sampled)
        XCTAssertEqual(TraceFlagsPolicy().evaluate(id, t, now: now), .sampled)
        XCTAssertEqual(SpanCountPolicy(minSpans: 2, maxSpans: 0).evaluate(id, t, now: now), .notSampled)
        XCTAssertEqual(NotPolicy(subPolicy: SpanCountPolicy(minSpans: 2, maxSpans: 0)).evaluate(id, t, now: now), .sampled)
        XCTAssertEqual(DropPolicy(subPolicies: [AlwaysSamplePolicy()]).evaluate(id, t, now: now), .dropped)
        XCTAssertFalse(SamplingDecision.combine([.sampled, .dropped]), "drop vetoes")
        XCTAssertTrue(SamplingDecision.combine([.invertNotSampled, .sampled]), "inverted not-sampled does not veto (0.156)")
        XCTAssertFalse(SamplingDecision.combine([.notSampled, .error]))
        // Rate limiting: a bucket of 2 × 10 spans/s takes 20 spans at once, then refuses.
        let rate = RateLimitingPolicy(spansPerSecond: 10, burst: nil)
        var big = TraceBuffer()
        big.append(.init(resource: Resource(), scope: InstrumentationScope(), schemaURLs: ("", ""), spans: Array(repeating: Span(), count: 20)))
        XCTAssertEqual(rate.evaluate(id, big, now: now), .sampled)
        XCTAssertEqual(rate.evaluate(id, t, now: now), .notSampled)
        XCTAssertEqual(rate.evaluate(id, t, now: now + .milliseconds(200)), .sampled, "refilled")
    }

    /// The reference's FNV-1a-64 vectors for the `probabilistic` policy.
    func testProbabilisticPolicyHash() {
        let salt = Array("default-hash-seed".utf8)
        XCTAssertEqual(ProbabilisticPolicy.hash(salt, TraceID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10)), 0xdbcf_64d5_420f_4cad)
        XCTAssertEqual(ProbabilisticPolicy.hash(salt, TraceID(high: 0x5b8e_fff7_9803_8103, low: 0xd269_b633_813f_c60c)), 0x95f1_76d2_91b1_d3f7)
        XCTAssertEqual(ProbabilisticPolicy.hash(salt, TraceID(high: .max, low: .max)), 0x17be_c373_9634_fe2d)
        XCTAssertEqual(ProbabilisticPolicy.threshold(100), .max)
        XCTAssertEqual(ProbabilisticPolicy.threshold(50), UInt64.max / 2)
        XCTAssertEqual(ProbabilisticPolicy.threshold(0), 0)
    }

    func testConfigErrors() {
        for (policy, message) in [
            ("{name: x, type: ottl_condition, ottl_condition: {span: ['true']}}", "not supported"),
            ("{name: x, type: nonsense}", "unknown sampling policy type"),
            ("{name: x, type: status_code, status_code: {status_codes: [BAD]}}", "unknown status code \"BAD\""),
            ("{type: always_sample}", "name: required"),
            ("{name: x, type: latency, latency: {threshold_ms: 10, upper_threshold_ms: 5}}", "upper_threshold_ms"),
        ] {
            XCTAssertThrowsError(try Self.processor("processors: {tail_sampling: {policies: [\(policy)]}}", next: CollectingConsumer())) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
                XCTAssertTrue("\(e)".contains("processors.tail_sampling.policies[0]"), "\(e)")
            }
        }
    }
}
