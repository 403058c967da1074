import Atomics

/// Tail sampling's decisions per policy and its table (`otelcol_processor_tail_sampling_*`).
public final class TailSamplingCounters: Sendable {
    public let id: ComponentID
    public let policies: [String]
    public let policySampled: [ManagedAtomic<Int>]
    public let policyNotSampled: [ManagedAtomic<Int>]
    public let tracesSampled = ManagedAtomic<Int>(0)
    public let tracesNotSampled = ManagedAtomic<Int>(0)
    public let newTraces = ManagedAtomic<Int>(0)
    public let lateSpans = ManagedAtomic<Int>(0)
    /// Traces decided before their decision_wait because num_traces was reached.
    public let decidedEarly = ManagedAtomic<Int>(0)
    public let tracesOnMemory = ManagedAtomic<Int>(0)

    init(id: ComponentID, policies: [String]) {
        self.id = id
        self.policies = policies
        policySampled = policies.map { _ in ManagedAtomic(0) }
        policyNotSampled = policies.map { _ in ManagedAtomic(0) }
    }

    func record(policy i: Int, sampled: Bool) {
        (sampled ? policySampled : policyNotSampled)[i].wrappingIncrement(ordering: .relaxed)
    }

    func record(global sampled: Bool) {
        (sampled ? tracesSampled : tracesNotSampled).wrappingIncrement(ordering: .relaxed)
    }
}

extension TelemetryRegistry {
    public func tailSampling(_ id: ComponentID, policies: [String]) -> TailSamplingCounters {
        instruments("tail_sampling|\(id)", reuseIf: { $0.policies == policies }) { TailSamplingCounters(id: id, policies: policies) }
    }
}
