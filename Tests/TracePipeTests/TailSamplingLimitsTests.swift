import Foundation
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// Tail sampling for a gateway: shards deciding as one, the byte budget, oversized traces, the
/// wait after a root span, block_on_overflow and the decision caches' counters.
final class TailSamplingLimitsTests: XCTestCase {
    func processor(_ settings: String, next: any TraceConsumer, context: ComponentContext = ProcessorFixture.context("tail_sampling"),
                   policies: String = "[{name: all, type: always_sample}]") throws -> TailSamplingProcessor {
        try TailSamplingTests.processor("""
            processors:
              tail_sampling:
                \(settings.split(separator: "\n").joined(separator: "\n    "))
                policies: \(policies)
            """, next: next, context: context)
    }

    /// A span of trace `trace` (random-looking id), `index` within it; index 0 is the root.
    func span(_ trace: UInt64, _ index: Int, error: Bool = false, durationMs: UInt64 = 10, root: Bool? = nil, padding: Int = 0) -> Span {
        var z = trace &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let isRoot = root ?? (index == 0)
        return Span(traceID: TraceID(high: z ^ (z >> 31), low: trace), spanID: SpanID(trace << 20 | UInt64(index + 1)),
                    parentSpanID: isRoot ? .zero : SpanID(trace << 20 | 1), name: "s\(index)",
                    startTimeUnixNano: 1_000_000_000, endTimeUnixNano: 1_000_000_000 + durationMs * 1_000_000,
                    attributes: padding > 0 ? [KeyValue("pad", .string(String(repeating: "x", count: padding)))] : [],
                    status: SpanStatus(code: error ? .error : .unset))
    }

    func request(_ spans: [Span], service: String = "svc") -> TraceData {
        TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string(service))]),
                                                scopeSpans: [ScopeSpans(spans: spans)])])
    }

    func kept(_ sink: CollectingConsumer) async -> [String: [String]] {
        var got: [String: [String]] = [:]
        for s in await sink.spans { got[s.traceID.hex, default: []].append(s.name) }
        return got.mapValues { $0.sorted() }
    }

    func isRefused(_ body: () async throws -> Void) async -> Bool {
        do {
            try await body()
            return false
        } catch PipelineError.refused {
            return true
        } catch {
            XCTFail("unexpected \(error)")
            return false
        }
    }

    /// The same input, spans of each trace spread over several requests and resources, decided
    /// by one shard and by four: the same traces kept with the same spans, the same counts.
    func testShardedAndUnshardedDecideIdentically() async throws {
        var requests: [TraceData] = []
        var generator = SplitMix(seed: 7)
        for r in 0..<60 {
            var spans: [Span] = []
            for t in 0..<40 {
                let trace = UInt64(r / 3 * 40 + t + 1)   // each trace appears in three requests
                for i in 0..<Int(generator.next() % 3 + 1) {
                    let index = (r % 3) * 10 + i
                    spans.append(span(trace, index, error: trace % 17 == 0 && index == 0, durationMs: trace % 23 == 0 ? 1500 : 10))
                }
            }
            requests.append(request(spans, service: "svc-\(r % 4)"))
        }
        let policies = """
            [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}},
                   {name: slow, type: latency, latency: {threshold_ms: 1000}},
                   {name: some, type: probabilistic, probabilistic: {sampling_percentage: 20}},
                   {name: not-svc-3, type: drop, drop: {drop_sub_policy: [{name: s3, type: string_attribute, string_attribute: {key: service.name, values: [svc-3]}}]}},
                   {name: limit, type: rate_limiting, rate_limiting: {spans_per_second: 1000000}}]
            """
        var results: [[String: [String]]] = []
        var sampledCounts: [Double?] = []
        for shards in [1, 4] {
            let sink = CollectingConsumer()
            let context = ProcessorFixture.context("tail_sampling")
            let p = try processor("decision_wait: 1h\nnum_shards: \(shards)", next: sink, context: context, policies: policies)
            XCTAssertEqual(p.shards.count, shards)
            for r in requests { try await p.consume(r) }
            await p.decideExpired(now: .now, all: true)
            results.append(await kept(sink))
            sampledCounts.append(context.telemetry.sample("otelcol_processor_tail_sampling_global_count_traces_sampled",
                                                          [("processor", "tail_sampling"), ("sampled", "true")]))
        }
        XCTAssertGreaterThan(results[0].count, 100, "a real share of the 800 traces is kept")
        XCTAssertLessThan(results[0].count, 700)
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(sampledCounts[0], sampledCounts[1])
        XCTAssertEqual(sampledCounts[0], Double(results[0].count))
    }

    /// Traces spread evenly over the shards (ids from a generator, and ids with a constant half).
    func testTracesSpreadOverTheShards() throws {
        let p = try processor("num_shards: 4", next: CollectingConsumer())
        var counts = [0, 0, 0, 0]
        var g = SplitMix(seed: 1)
        for _ in 0..<4000 { counts[p.shard(of: TraceID(high: g.next(), low: g.next()))] += 1 }
        for i in 0..<4000 { counts[p.shard(of: TraceID(high: 0, low: UInt64(i)))] += 1 }   // 64-bit ids, zero-padded
        for c in counts { XCTAssertEqual(Double(c), 2000, accuracy: 300, "\(counts)") }
    }

    /// Above max_waiting_mib new requests are refused (never taken and dropped), the waiting
    /// bytes never pass the budget, and once decisions free room requests are taken again.
    func testTheByteBudgetRefusesAndNeverGrowsPastIt() async throws {
        let sink = CollectingConsumer()
        let context = ProcessorFixture.context("tail_sampling")
        let p = try processor("decision_wait: 1h\nmax_waiting_mib: 0.25\nnum_shards: 2", next: sink, context: context)
        let limit = 262_144
        XCTAssertEqual(p.budget.limitBytes, limit)
        var accepted = 0, refused = 0, acceptedSpans = 0
        for t in 0..<400 {
            let data = request((0..<5).map { span(UInt64(t + 1), $0, padding: 100) })
            if await isRefused({ try await p.consume(data) }) {
                refused += 1
            } else {
                accepted += 1
                acceptedSpans += 5
            }
            XCTAssertLessThanOrEqual(p.budget.waitingBytes, limit)
        }
        XCTAssertGreaterThan(accepted, 50)
        XCTAssertGreaterThan(refused, 100, "400 traces of ~2 KB do not fit in 256 KiB")
        XCTAssertEqual(context.telemetry.sample("tracepipe_processor_tail_sampling_refused_spans", [("processor", "tail_sampling"), ("reason", "max_waiting_mib")]),
                       Double(refused * 5))
        let perShard = (0..<2).map { context.telemetry.sample("tracepipe_processor_tail_sampling_waiting_bytes", [("processor", "tail_sampling"), ("shard", "\($0)")]) ?? 0 }
        XCTAssertEqual(Int(perShard.reduce(0, +)), p.budget.waitingBytes, "the shards' gauges add up to what the budget holds")
        await p.decideExpired(now: .now, all: true)
        XCTAssertEqual(p.budget.waitingBytes, 0)
        XCTAssertEqual(p.budget.waitingTraces, 0)
        let spans = await sink.spans.count
        XCTAssertEqual(spans, acceptedSpans, "every accepted span was kept (always_sample)")
        try await p.consume(request([span(9999, 0)]))
    }

    /// `when_full: decide_early`: nothing is refused; the oldest traces are decided to make room,
    /// and the budget is still never passed.
    func testDecideEarlyMakesRoomInstead() async throws {
        let sink = CollectingConsumer()
        let context = ProcessorFixture.context("tail_sampling")
        let p = try processor("decision_wait: 1h\nmax_waiting_mib: 0.25\nwhen_full: decide_early", next: sink, context: context,
                              policies: "[{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]")
        for t in 0..<400 {
            try await p.consume(request((0..<5).map { span(UInt64(t + 1), $0, error: t % 10 == 0 && $0 == 0, padding: 100) }))
            XCTAssertLessThanOrEqual(p.budget.waitingBytes, p.budget.limitBytes)
        }
        let early = context.telemetry.sample("tracepipe_processor_tail_sampling_traces_decided_over_budget", [("processor", "tail_sampling")]) ?? 0
        XCTAssertGreaterThan(early, 200)
        let keptEarly = await kept(sink).count
        XCTAssertGreaterThan(keptEarly, 20, "error traces decided early are kept")
        await p.decideExpired(now: .now, all: true)
        let keptAll = await kept(sink).count
        XCTAssertEqual(keptAll, 40, "every error trace, none of the others")
    }

    /// A trace of 100,000 spans over maximum_trace_size_bytes: dropped (once, counted; its later
    /// spans too; other traces untouched), or with `oversized_trace: forward` handed on at once
    /// with its later spans following.
    func testOversizedTraceInBothModes() async throws {
        for mode in ["drop", "forward"] {
            let sink = CollectingConsumer()
            let context = ProcessorFixture.context("tail_sampling")
            let p = try processor("decision_wait: 1h\nmaximum_trace_size_bytes: 1000000\noversized_trace: \(mode)", next: sink, context: context)
            try await p.consume(request([span(1, 0), span(1, 1)]))
            var sentBeforeLimit = 0
            for chunk in 0..<100 {
                try await p.consume(request((0..<1000).map { span(42, chunk * 1000 + $0) }))
                if context.telemetry.sample("otelcol_processor_tail_sampling_traces_dropped_too_large", [("processor", "tail_sampling")]) == 0,
                   context.telemetry.sample("tracepipe_processor_tail_sampling_traces_forwarded_too_large", [("processor", "tail_sampling")]) == 0 {
                    sentBeforeLimit += 1000
                }
            }
            let counter = mode == "drop" ? "otelcol_processor_tail_sampling_traces_dropped_too_large" : "tracepipe_processor_tail_sampling_traces_forwarded_too_large"
            XCTAssertEqual(context.telemetry.sample(counter, [("processor", "tail_sampling")]), 1, mode)
            // ~60 bytes a span: the limit is crossed within the first 20,000 spans.
            XCTAssertLessThan(sentBeforeLimit, 20_000, mode)
            XCTAssertGreaterThan(sentBeforeLimit, 10_000, mode)
            let beforeDecision = await sink.spans.filter { $0.traceID.low == 42 }.count
            XCTAssertEqual(beforeDecision, mode == "drop" ? 0 : 100_000, "\(mode): handed on at once, later spans following")
            XCTAssertEqual(p.budget.waitingTraces, 1, "\(mode): only the small trace still waits")
            await p.decideExpired(now: .now, all: true)
            let all = await kept(sink)
            XCTAssertEqual(all[span(1, 0).traceID.hex]?.count, 2, mode)
            XCTAssertEqual(all[span(42, 0).traceID.hex]?.count ?? 0, mode == "drop" ? 0 : 100_000, mode)
            await p.shutdown()
        }
    }

    /// `decision_wait_after_root_received`: a trace is decided that long after its root span
    /// arrived, not a full decision_wait after its first span; a trace without a root waits.
    func testDecisionAfterTheRootSpan() async throws {
        let sink = CollectingConsumer()
        let p = try processor("decision_wait: 10s\ndecision_wait_after_root_received: 100ms", next: sink)
        let t0 = ContinuousClock.now
        try await p.consume(request([span(1, 1), span(2, 1)]))
        try await p.consume(request([span(1, 0)]))   // trace 1's root
        await p.decideExpired(now: t0 + .milliseconds(50))
        var got = await kept(sink)
        XCTAssertTrue(got.isEmpty)
        await p.decideExpired(now: t0 + .milliseconds(500))
        got = await kept(sink)
        XCTAssertEqual(got, [span(1, 0).traceID.hex: ["s0", "s1"]])
        await p.decideExpired(now: t0 + .seconds(11))
        got = await kept(sink)
        XCTAssertEqual(got.count, 2, "the trace without a root after decision_wait")
    }

    /// Decisions do not depend on the ticker getting its turn: a request that finds the last
    /// check a tick old runs it (here no ticker runs at all: the processor is not started).
    func testRequestsRunDueDecisionsThemselves() async throws {
        let sink = CollectingConsumer()
        let p = try processor("decision_wait: 20ms\nnum_shards: 1", next: sink)
        try await p.consume(request([span(1, 0)]))
        try await Task.sleep(for: .milliseconds(60))
        try await p.consume(request([span(2, 0)]))
        let got = await kept(sink)
        XCTAssertEqual(got, [span(1, 0).traceID.hex: ["s0"]], "trace 1 decided by trace 2's request")
    }

    /// `block_on_overflow`: at num_traces waiting traces, requests are refused, not evicted.
    func testBlockOnOverflowRefuses() async throws {
        let context = ProcessorFixture.context("tail_sampling")
        let p = try processor("decision_wait: 1h\nnum_traces: 10\nblock_on_overflow: true", next: CollectingConsumer(), context: context)
        for t in 0..<10 { try await p.consume(request([span(UInt64(t + 1), 0)])) }
        let refused = await isRefused { try await p.consume(self.request([self.span(11, 0)])) }
        XCTAssertTrue(refused)
        XCTAssertEqual(context.telemetry.sample("otelcol_processor_tail_sampling_sampling_trace_decided_early", [("processor", "tail_sampling")]), 0)
        XCTAssertEqual(context.telemetry.sample("tracepipe_processor_tail_sampling_refused_spans", [("processor", "tail_sampling"), ("reason", "num_traces")]), 1)
    }

    /// Spans of traces decided and forgotten by the table follow the decision caches (counted
    /// as the collector counts them, in spans).
    func testDecisionCachesCountTheirReleases() async throws {
        let sink = CollectingConsumer()
        let context = ProcessorFixture.context("tail_sampling")
        let p = try processor("decision_wait: 1h\nnum_traces: 4\nnum_shards: 1\ndecision_cache: {sampled_cache_size: 100, non_sampled_cache_size: 100}",
                              next: sink, context: context, policies: "[{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]")
        for t in 0..<20 { try await p.consume(request([span(UInt64(t + 1), 0, error: t % 2 == 0)])) }
        // Traces 1 and 2 were evicted long ago: their late spans follow the caches.
        try await p.consume(request([span(1, 1), span(1, 2), span(2, 1)]))
        XCTAssertEqual(context.telemetry.sample("otelcol_processor_tail_sampling_early_releases_from_cache_decision", [("processor", "tail_sampling"), ("sampled", "true")]), 2)
        XCTAssertEqual(context.telemetry.sample("otelcol_processor_tail_sampling_early_releases_from_cache_decision", [("processor", "tail_sampling"), ("sampled", "false")]), 1)
        let got = await kept(sink)
        XCTAssertEqual(got[span(1, 0).traceID.hex], ["s0", "s1", "s2"])
        XCTAssertNil(got[span(2, 0).traceID.hex])
    }

    func testConfigErrorsAndDefaults() throws {
        for (settings, message) in [
            ("num_shards: 0", "num_shards: must be between 1 and 256"),
            ("num_shards: 300", "num_shards: must be between 1 and 256"),
            ("max_waiting_mib: 0", "max_waiting_mib: must be greater than zero"),
            ("max_waiting_mib: .inf", "max_waiting_mib: expected a number"),
            ("max_waiting_mib: 1e300", "max_waiting_mib: must be at most"),
            ("when_full: drop", "when_full"),
            ("oversized_trace: keep", "oversized_trace"),
            ("maximum_trace_size_bytes: -1", "maximum_trace_size_bytes"),
        ] {
            XCTAssertThrowsError(try processor(settings, next: CollectingConsumer()), settings) { e in
                XCTAssertTrue("\(e)".contains(message), "\(settings): \(e)")
                XCTAssertTrue("\(e)".contains("processors.tail_sampling"), "\(e)")
            }
        }
        let p = try processor("decision_wait: 1s", next: CollectingConsumer())
        XCTAssertEqual(p.shards.count, max(1, min(256, ProcessInfo.processInfo.activeProcessorCount)))
        XCTAssertEqual(p.budget.limitBytes, TailSamplingConfig.fallbackWaitingBytes, "no platform: no memory limit known")
        struct Limited: ProcessStatistics {
            func residentBytes() -> UInt64 { 0 }
            func heap() -> (inUse: UInt64, fromSystem: UInt64) { (0, 0) }
            func cpuSeconds() -> Double { 0 }
            func memoryLimitBytes() -> UInt64 { 2 << 30 }
            func releaseFreeHeap() {}
        }
        XCTAssertEqual(TailSamplingProcessor.defaultWaitingBytes(Limited()), 1 << 30, "half the memory limit")
    }
}

/// A small deterministic generator for test inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var x = state
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
}
