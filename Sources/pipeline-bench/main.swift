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

func tailSampling() async throws {
    let config = try load("""
        receivers: {otlp: {protocols: {http: }}}
        processors:
          tail_sampling:
            decision_wait: 2s
            num_traces: 60000
            policies:
              - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
              - {name: slow, type: latency, latency: {threshold_ms: 1000}}
              - {name: rest, type: probabilistic, probabilistic: {sampling_percentage: 5}}
        exporters: {debug: }
        service: {pipelines: {traces: {receivers: [otlp], processors: [tail_sampling], exporters: [debug]}}}
        """)
    let sink = Sink()
    let (head, processors) = try chain(config, sink)
    // 50,000 traces of 10 spans, 100 traces per request; built first, so the RSS growth below is
    // what the processor itself holds beyond the spans' strings (which it shares).
    let batches = requests(count: 500, tracesPerRequest: 100, spansPerTrace: 10, seed: 1)
    let baseRSS = rssMB()
    try await processors[0].start(ComponentHost(extensions: [:], status: ServiceStatus()))
    let t0 = now()
    for b in batches { try await head.consume(b) }
    let ingest = now() - t0
    let heldRSS = rssMB()
    let spans = 500 * 100 * 10
    print(String(format: "tail_sampling ingest: %.0f spans/s (%d spans, 50,000 traces in flight, %.2f s)", Double(spans) / ingest, spans, ingest))
    print(String(format: "tail_sampling memory: RSS %.0f MB while holding them; the processor adds %.0f MB = %.0f bytes per waiting span (span structs, trace table; strings are shared)",
                 heldRSS, heldRSS - baseRSS, (heldRSS - baseRSS) * 1_048_576 / Double(spans)))
    // Decisions happen after decision_wait: measure how late they come.
    var first: Double?
    while first == nil {
        try await Task.sleep(for: .milliseconds(20))
        first = await sink.firstArrival
    }
    let deadline = t0 + 2
    print(String(format: "tail_sampling decision latency after decision_wait: first sampled trace %.0f ms after its wait ended", max(0, first! - deadline) * 1000))
    try await Task.sleep(for: .seconds(2.5))
    let kept = await sink.spans
    print(String(format: "tail_sampling kept %d of %d spans (%.1f %%: errors, slow, 5 %% of the rest)", kept, spans, Double(kept) * 100 / Double(spans)))
    for p in processors { await p.shutdown() }
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
