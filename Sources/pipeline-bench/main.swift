// Processor benchmarks (release build, one core): tail sampling with many traces in flight, and
// the scrubbing preset against a passthrough. Run through scripts/bench-pipeline.
import Foundation
import NIOPosix
import TraceModel
import TracePipe
import TracePipePlatform

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func rssMB() -> Double { Double(LinuxProcess().residentBytes()) / 1_048_576 }

/// The process's peak RSS (VmHWM) in MB.
func peakRSSMB() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return (Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) / 1024
    }
    return 0
}

/// Counts what reaches the end of a chain.
actor Sink: TraceConsumer {
    var spans = 0
    var firstArrival: Double?
    func consume(_ data: consuming TraceData) async throws {
        spans += data.spanCount
        if firstArrival == nil { firstArrival = now() }
    }
}

func load(_ yaml: String) throws -> ServiceConfig {
    try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: yaml)
}

func chain(_ config: ServiceConfig, _ sink: any TraceConsumer) throws -> (any TraceConsumer, [any Processor]) {
    var next: any TraceConsumer = sink
    var processors: [any Processor] = []
    let context = ComponentContext(id: ComponentID(type: "bench"), kind: .processor, logger: .init(label: "bench"),
                                   eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
    for id in config.pipelines[0].processors.reversed() {
        let c = config.processors[id]!
        let p = try c.instantiate(context, next: next) as! any Processor
        processors.insert(p, at: 0)
        next = p
    }
    return (next, processors)
}

/// Requests of `tracesPerRequest` traces × `spansPerTrace` spans, realistic attributes.
func requests(count: Int, tracesPerRequest: Int, spansPerTrace: Int, seed: UInt64) -> [TraceData] {
    var z = seed
    func rnd() -> UInt64 {
        z &+= 0x9E37_79B9_7F4A_7C15
        var x = z
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
    return (0..<count).map { _ in
        var spans: [Span] = []
        for _ in 0..<tracesPerRequest {
            let id = TraceID(high: rnd(), low: rnd())
            let error = rnd() % 100 == 0
            let slow = rnd() % 100 == 0
            for i in 0..<spansPerTrace {
                spans.append(Span(traceID: id, spanID: SpanID(rnd() | 1), name: "GET /api/v1/items/{id}", kind: .server,
                                  startTimeUnixNano: 1_700_000_000_000_000_000, endTimeUnixNano: 1_700_000_000_000_000_000 + (slow ? 1_500_000_000 : 20_000_000),
                                  attributes: [KeyValue("http.route", .string("/api/v1/items/{id}")), KeyValue("http.request.method", .string("GET")),
                                               KeyValue("url.full", .string("https://shop.example.com/api/v1/items/42?page=\(i)&token=abc\(i)")),
                                               KeyValue("user.email", .string("someone\(i)@example.com")),
                                               KeyValue("http.request.header.authorization", .string("Bearer xyz\(i)")),
                                               KeyValue("db.statement", .string("SELECT * FROM items WHERE id = $1"))],
                                  status: SpanStatus(code: error && i == 0 ? .error : .unset)))
            }
        }
        return TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string("shop"))]),
                                                       scopeSpans: [ScopeSpans(spans: spans)])])
    }
}

/// One run of tail sampling with `shards` shards: 200,000 traces of 10 spans in flight, fed by
/// `feeders` concurrent tasks (as concurrent client connections would), then decided.
func tailSampling(shards: Int, feeders: Int) async throws {
    // TAIL_BENCH_STEADY=1: three times as many traces with decision_wait 1s, so that decisions
    // free memory while ingest goes on and later traces reuse it (a gateway's steady state:
    // ~200,000-300,000 traces waiting at these rates), instead of one fill into fresh memory.
    let steady = ProcessInfo.processInfo.environment["TAIL_BENCH_STEADY"] != nil
    let traces = steady ? 600_000 : 200_000, perRequest = 10
    let wait = steady ? 1 : 10
    func config(dropPending: Bool) throws -> ServiceConfig {
        try load("""
            receivers: {otlp: {protocols: {http: }}}
            processors:
              tail_sampling:
                decision_wait: \(wait)s
                num_traces: 700000
                num_shards: \(shards)
                max_waiting_mib: 8192
                drop_pending_traces_on_shutdown: \(dropPending)
                decision_cache: {sampled_cache_size: 100000, non_sampled_cache_size: 100000}
                policies:
                  - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
                  - {name: slow, type: latency, latency: {threshold_ms: 1000}}
                  - {name: five-percent-of-the-rest, type: probabilistic, probabilistic: {sampling_percentage: 5}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], processors: [tail_sampling], exporters: [debug]}}}
            """)
    }
    func processor(_ config: ServiceConfig, _ telemetry: TelemetryRegistry, _ sink: Sink) throws -> any Processor {
        let context = ComponentContext(id: ComponentID(type: "tail_sampling"), kind: .processor, logger: .init(label: "bench"),
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus(), telemetry: telemetry)
        return try config.processors[ComponentID(type: "tail_sampling")]!.instantiate(context, next: sink) as! any Processor
    }
    /// Requests of 10 traces × 10 spans, one list per feeder.
    func build(seed: UInt64) -> [[TraceData]] {
        (0..<feeders).map { f in
            requests(count: traces / perRequest / feeders, tracesPerRequest: perRequest, spansPerTrace: 10, seed: seed + UInt64(f))
        }
    }
    /// Hands every request over (not copied), as a receiver hands it on, from `feeders`
    /// concurrent tasks (as concurrent client connections would); returns seconds and CPU seconds.
    func fill(_ p: any Processor, _ lists: consuming [[TraceData]]) async throws -> (Double, Double) {
        var lists = lists
        let cpu0 = LinuxProcess().cpuSeconds()
        let t0 = now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for f in 0..<feeders {
                var mine = lists[f]
                lists[f] = []
                group.addTask {
                    for i in mine.indices {
                        let r = mine[i]
                        mine[i] = TraceData()
                        try await p.consume(r)
                    }
                }
            }
            try await group.waitForAll()
        }
        return (now() - t0, LinuxProcess().cpuSeconds() - cpu0)
    }
    let host = ComponentHost(extensions: [:], status: ServiceStatus())
    let baseRSS = rssMB()
    let telemetry = TelemetryRegistry()
    let sink = Sink()
    let measured = try processor(config(dropPending: false), telemetry, sink)
    try await measured.start(host)
    let lists = build(seed: 1)
    let spans = lists.reduce(0) { $0 + $1.reduce(0) { $0 + $1.spanCount } }
    let budgetBytes = lists.reduce(0) { $0 + $1.reduce(0) { $0 + $1.estimatedByteSize } } + traces * 160  // TailSamplingBudget.perTraceBytes
    let builtRSS = rssMB()
    let t0 = now()
    let (ingest, cpu) = try await fill(measured, lists)
    let heldRSS = rssMB()
    // Memory per waiting span: what the process holds once the requests were handed over,
    // against what the same spans took as decoded requests (before the hand-over).
    let received = (builtRSS - baseRSS) * 1_048_576 / Double(spans)
    let held = (heldRSS - baseRSS) * 1_048_576 / Double(spans)
    var waiting = traces
    if steady {
        for line in telemetry.exposition(process: UnknownProcessStatistics()).split(separator: "\n")
        where line.hasPrefix("otelcol_processor_tail_sampling_sampling_traces_on_memory") {
            waiting = Int(Double(line.split(separator: " ").last!) ?? 0)
        }
    }
    print(String(format: "tail_sampling %d shard%@ (%d feeders%@): ingest %.0f spans/s (%d spans, %d traces in flight%@, %.2f s; %.2f cores busy, %.0f spans/s per core)",
                 shards, shards == 1 ? "" : "s", feeders, steady ? ", steady state: decision_wait 1s" : "", Double(spans) / ingest, spans, waiting,
                 steady ? " at the end" : "", ingest, cpu / ingest, Double(spans) / cpu))
    print(String(format: "  memory: %.0f bytes per waiting span held (RSS %.0f MB for %d spans), against %.0f bytes per span as decoded requests: overhead %.0f bytes per waiting span; the byte budget counts %.0f bytes per span",
                 held, heldRSS, spans, received, held - received, Double(budgetBytes) / Double(spans)))

    // Decisions come after decision_wait: wait for all, then read their delay.
    var last = -1
    var quiet = 0
    while quiet < 10 {
        try await Task.sleep(for: .milliseconds(100))
        let n = await sink.spans
        quiet = n == last && now() - t0 > Double(wait) + 0.5 ? quiet + 1 : 0
        last = n
    }
    let exposition = telemetry.exposition(process: UnknownProcessStatistics())
    var buckets: [(Double, Double)] = []
    var count = 0.0
    for line in exposition.split(separator: "\n") where line.hasPrefix("tracepipe_processor_tail_sampling_decision_delay_seconds") {
        let value = Double(line.split(separator: " ").last!) ?? 0
        if line.contains("_bucket"), let le = line.split(separator: "le=\"").last?.split(separator: "\"").first {
            buckets.append((le == "+Inf" ? .infinity : Double(le)!, value))
        } else if line.contains("_count") {
            count = value
        }
    }
    func quantile(_ q: Double) -> String {
        guard let b = buckets.first(where: { $0.1 >= q * count }) else { return "?" }
        return b.0.isInfinite ? "> 10 s" : String(format: "≤ %.0f ms", b.0 * 1000)
    }
    print(String(format: "  decision delay after decision_wait (%.0f traces): p50 %@, p99 %@, max %@; peak RSS %.0f MB",
                 count, quantile(0.5), quantile(0.99), quantile(1.0), peakRSSMB()))
    let kept = await sink.spans
    print(String(format: "  kept %d of %d spans (%.1f %%: errors, slow, 5 %% of the rest)", kept, spans, Double(kept) * 100 / Double(spans)))
    await measured.shutdown()
}

func tailSampling() async throws {
    // TAIL_BENCH_SHARDS=2: only that shard count (for a profiler).
    let only = ProcessInfo.processInfo.environment["TAIL_BENCH_SHARDS"].flatMap { Int($0) }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    for shards in only.map({ [$0] }) ?? [1, cores] {
        try await tailSampling(shards: shards, feeders: 4)
    }
}

func scrubbing() async throws {
    let root = URL(fileURLWithPath: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : ".")
    let preset = try ConfigLoader(registry: .builtIn, environment: [:]).load(files: [root.appendingPathComponent("pipelines/scrub-secrets.yaml").path])
    var scrubOnly = preset
    scrubOnly.pipelines[0].processors = preset.pipelines[0].processors.filter { $0.type != "batch" }
    // PIPELINE_BENCH_ONLY=redaction/emails: just that processor of the preset (for a profiler);
    // PIPELINE_BENCH_ONLY=preset: the whole preset, without the per-processor figures.
    let only = ProcessInfo.processInfo.environment["PIPELINE_BENCH_ONLY"]
    if let only, only != "preset" {
        scrubOnly.pipelines[0].processors = scrubOnly.pipelines[0].processors.filter { $0.description == only }
    }
    // The reference payloads (../shared/bench/gen_payload.py: 12 attributes per span, secrets
    // among them) when they are there, else synthetic requests.
    let dir = "/tmp/tpbench/payloads/n100"
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("req") && $0.hasSuffix(".json") }.sorted()
    let requests = files.isEmpty ? requests(count: 200, tracesPerRequest: 10, spansPerTrace: 10, seed: 2)
        : try files.map { try OTLPJSONDecoder.decode(Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)))) }
    // Each request is decoded afresh, as a receiver hands it on (the processors then own their
    // data and change it in place), and only the hand-over is timed: into the processors, or
    // straight into the sink. The two alternate request by request, so that the machine's
    // changing speed (it is shared) weighs on both alike; their difference is what the
    // processors cost. Dropping the data at the end is in both.
    let bodies = requests.map { OTLPProtobufEncoder.encode($0) }
    let spans = requests.reduce(0) { $0 + $1.spanCount }
    // PIPELINE_BENCH_SPANS: fewer spans per measurement (for a profiler).
    let perRun = ProcessInfo.processInfo.environment["PIPELINE_BENCH_SPANS"].flatMap { Int($0) } ?? 200_000
    let rounds = max(1, perRun / spans)
    let sink = Sink()
    /// Seconds per span of `head` beyond handing the data straight to the sink.
    func cost(_ head: any TraceConsumer) async throws -> Double {
        var perRound: [Double] = []
        for _ in 0..<rounds {
            var with = 0.0, without = 0.0
            for b in bodies {
                let a = try OTLPProtobufDecoder.decode(b)
                var t0 = now()
                try await head.consume(consume a)
                with += now() - t0
                let c = try OTLPProtobufDecoder.decode(b)
                t0 = now()
                try await sink.consume(consume c)
                without += now() - t0
            }
            perRound.append((with - without) / Double(spans))
        }
        // PIPELINE_BENCH_ROUNDS=1: print every round (to see how steady the machine is).
        if ProcessInfo.processInfo.environment["PIPELINE_BENCH_ROUNDS"] != nil { print(perRound.map { String(format: "%.2f", $0 * 1e6) }.joined(separator: " ")) }
        // The median round: robust to a disturbed one.
        return perRound.sorted()[perRound.count / 2]
    }
    let (head, _) = try chain(scrubOnly, Sink())
    _ = try await cost(head)
    let w = try await cost(head)
    let shape = files.isEmpty ? "synthetic spans: 6 attributes, 3 of them secrets" : "\(files.count) reference payloads from \(dir): 12 attributes per span"
    print(String(format: "scrubbing preset (attributes + 2 × redaction): %.2f µs per span (%.0f spans/s through the processors alone; %@)",
                 w * 1e6, 1 / w, shape))
    // Each processor of the preset alone, to show where the time goes.
    for id in scrubOnly.pipelines[0].processors where only == nil {
        var alone = preset
        alone.pipelines[0].processors = [id]
        let (one, _) = try chain(alone, Sink())
        print(String(format: "  %@ alone: %.2f µs per span", id.description as NSString, try await cost(one) * 1e6))
    }
}

let which = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : "all"
if which == "all" || which == "tail" { try await tailSampling() }
if which == "all" || which == "scrub" { try await scrubbing() }
