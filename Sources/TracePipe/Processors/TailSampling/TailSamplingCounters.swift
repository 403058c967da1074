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

    init(id: ComponentID, policies: [String], registry: TelemetryRegistry) {
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
        lateSpans = p.counter(name: "otelcol_processor_tail_sampling_sampling_late_span", labels: [processor],
                                  help: "Spans that arrived after their trace was decided.")
    }

    func record(policy i: Int, sampled: Bool) {
        (sampled ? policySampled : policyNotSampled)[i].increment()
    }

    func record(global sampled: Bool) {
        (sampled ? tracesSampled : tracesNotSampled).increment()
    }
}

extension TelemetryRegistry {
    public func tailSampling(_ id: ComponentID, policies: [String]) -> TailSamplingCounters {
        TailSamplingCounters(id: id, policies: policies, registry: self)
    }
}
