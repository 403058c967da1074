import Atomics

/// A sampler's decisions (`otelcol_processor_probabilistic_sampler_count_traces_sampled`).
public final class SamplerCounters: Sendable {
    public let id: ComponentID
    public let sampled = ManagedAtomic<Int>(0)
    public let dropped = ManagedAtomic<Int>(0)

    public init(id: ComponentID) {
        self.id = id
    }

    func record(sampled s: Int, dropped d: Int) {
        sampled.wrappingIncrement(by: s, ordering: .relaxed)
        dropped.wrappingIncrement(by: d, ordering: .relaxed)
    }
}

extension TelemetryRegistry {
    public func sampler(_ id: ComponentID) -> SamplerCounters {
        instruments("sampler|\(id)") { SamplerCounters(id: id) }
    }
}
