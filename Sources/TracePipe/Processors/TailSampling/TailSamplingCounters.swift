import Prometheus

/// Tail sampling's decisions per policy and its table (`otelcol_processor_tail_sampling_*`, at
/// level `normal`).
public final class TailSamplingCounters: Sendable {
    let policySampled: [Counter]
    let policyNotSampled: [Counter]
    let tracesSampled: Counter
    let tracesNotSampled: Counter
    let newTraces: Counter
    let lateSpans: Counter
    /// Traces decided before their decision_wait because num_traces was reached.
    let decidedEarly: Counter
    let tracesOnMemory: Gauge
    /// Traces over maximum_trace_size_bytes, dropped (the collector's counter) or handed on.
    let droppedTooLarge: Counter
    let forwardedTooLarge: Counter
    /// Traces decided early to make room in the byte budget (when_full: decide_early).
    let decidedOverBudget: Counter
    /// Spans of requests refused because the byte budget or num_traces was full.
    let refusedOverBudget: Counter
    let refusedOverNumTraces: Counter
    /// Spans that followed a decision cache's entry (the collector's early_releases_from_cache_decision).
    let cacheReleasesSampled: Counter
    let cacheReleasesNotSampled: Counter
    /// How long after its due time (decision_wait, or the wait after its root span) a trace was decided.
    let decisionDelay: ValueHistogram
    private let shardTraces: [Gauge]
    private let shardBytes: [Gauge]
    let budgetBytes: Gauge

    init(id: ComponentID, policies: [String], shards: Int, registry: TelemetryRegistry) {
        let p = registry.registry(for: .normal)
        let processor = ("processor", "\(id)")
        func perPolicy(_ policy: String, _ sampled: String) -> Counter {
            p.counter(name: "otelcol_processor_tail_sampling_count_traces_sampled", labels: [processor, ("policy", policy), ("sampled", sampled)],
                          help: "Traces sampled or not per policy.")
        }
        policySampled = policies.map { perPolicy($0, "true") }
        policyNotSampled = policies.map { perPolicy($0, "false") }
        func global(_ sampled: String) -> Counter {
            p.counter(name: "otelcol_processor_tail_sampling_global_count_traces_sampled", labels: [processor, ("sampled", sampled)],
                          help: "Traces sampled or not after combining all policies.")
        }
        tracesSampled = global("true")
        tracesNotSampled = global("false")
        tracesOnMemory = p.gauge(name: "otelcol_processor_tail_sampling_sampling_traces_on_memory", labels: [processor],
                                     help: "Traces waiting for a decision.")
        newTraces = p.counter(name: "otelcol_processor_tail_sampling_new_trace_id_received", labels: [processor],
                                  help: "Traces seen for the first time.")
        decidedEarly = p.counter(name: "otelcol_processor_tail_sampling_sampling_trace_decided_early", labels: [processor],
                                     help: "Traces decided before decision_wait because num_traces was reached (the collector drops these: sampling_trace_dropped_too_early).")
        droppedTooLarge = p.counter(name: "otelcol_processor_tail_sampling_traces_dropped_too_large", labels: [processor],
                                    help: "Traces dropped because they exceeded maximum_trace_size_bytes.")
        forwardedTooLarge = p.counter(name: "tracepipe_processor_tail_sampling_traces_forwarded_too_large", labels: [processor],
                                      help: "Traces handed on undecided because they exceeded maximum_trace_size_bytes (oversized_trace: forward).")
        decidedOverBudget = p.counter(name: "tracepipe_processor_tail_sampling_traces_decided_over_budget", labels: [processor],
                                      help: "Traces decided before decision_wait to make room in max_waiting_mib (when_full: decide_early).")
        func refused(_ reason: String) -> Counter {
            p.counter(name: "tracepipe_processor_tail_sampling_refused_spans", labels: [processor, ("reason", reason)],
                      help: "Spans of requests refused (503 / UNAVAILABLE) because tail sampling was full.")
        }
        refusedOverBudget = refused("max_waiting_mib")
        refusedOverNumTraces = refused("num_traces")
        func cache(_ sampled: String) -> Counter {
            p.counter(name: "otelcol_processor_tail_sampling_early_releases_from_cache_decision", labels: [processor, ("sampled", sampled)],
                      help: "Spans that followed their trace's decision found in a decision cache.")
        }
        cacheReleasesSampled = cache("true")
        cacheReleasesNotSampled = cache("false")
        decisionDelay = p.valueHistogram(name: "tracepipe_processor_tail_sampling_decision_delay_seconds", labels: [processor],
                                         buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
                                         help: "How long after its decision_wait ended (or the wait after its root span) each trace was decided.")
        shardTraces = (0..<shards).map {
            p.gauge(name: "tracepipe_processor_tail_sampling_waiting_traces", labels: [processor, ("shard", "\($0)")],
                    help: "Traces waiting for a decision, per shard.")
        }
        shardBytes = (0..<shards).map {
            p.gauge(name: "tracepipe_processor_tail_sampling_waiting_bytes", labels: [processor, ("shard", "\($0)")],
                    help: "Bytes (in memory) of spans waiting for a decision, per shard.")
        }
        budgetBytes = p.gauge(name: "tracepipe_processor_tail_sampling_max_waiting_bytes", labels: [processor],
                              help: "The byte budget for spans waiting for a decision (max_waiting_mib), all shards together.")
        lateSpans = p.counter(name: "otelcol_processor_tail_sampling_sampling_late_span", labels: [processor],
                                  help: "Spans that arrived after their trace was decided.")
    }

    func record(policy i: Int, sampled: Bool) {
        (sampled ? policySampled : policyNotSampled)[i].increment()
    }

    func record(global sampled: Bool) {
        (sampled ? tracesSampled : tracesNotSampled).increment()
    }

    func record(cacheRelease sampled: Bool, spans: Int) {
        (sampled ? cacheReleasesSampled : cacheReleasesNotSampled).increment(by: Int64(spans))
    }

    func setWaiting(shard: Int, traces: Int, bytes: Int, total: Int) {
        shardTraces[shard].set(Int64(traces))
        shardBytes[shard].set(Int64(bytes))
        tracesOnMemory.set(Int64(total))
    }
}

extension TelemetryRegistry {
    public func tailSampling(_ id: ComponentID, policies: [String], shards: Int = 1) -> TailSamplingCounters {
        TailSamplingCounters(id: id, policies: policies, shards: shards, registry: self)
    }
}
