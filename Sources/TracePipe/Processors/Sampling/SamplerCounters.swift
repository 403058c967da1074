import Prometheus

/// A sampler's decisions (`otelcol_processor_probabilistic_sampler_count_traces_sampled`, at
/// level `normal`).
public final class SamplerCounters: Sendable {
    let sampled: Counter
    let dropped: Counter

    init(id: ComponentID, registry: TelemetryRegistry) {
        let p = registry.registry(for: .normal)
        func counter(_ sampled: String) -> Counter {
            p.counter(name: "otelcol_processor_probabilistic_sampler_count_traces_sampled",
                          labels: [("processor", "\(id)"), ("policy", "trace_id_hash"), ("sampled", sampled)],
                          help: "Spans sampled or not by the probabilistic sampler.")
        }
        sampled = counter("true")
        dropped = counter("false")
    }

    func record(sampled s: Int, dropped d: Int) {
        sampled.increment(by: Int64(s))
        dropped.increment(by: Int64(d))
    }
}

extension TelemetryRegistry {
    public func sampler(_ id: ComponentID) -> SamplerCounters {
        SamplerCounters(id: id, registry: self)
    }
}
