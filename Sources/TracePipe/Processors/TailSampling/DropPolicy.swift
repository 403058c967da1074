import TraceModel

/// `drop`: when all sub-policies sample, the trace is dropped whatever the other policies say.
struct DropPolicy: SamplingPolicy {
    let subPolicies: [any SamplingPolicy]

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        for p in subPolicies where p.evaluate(id, t, now: now).normalized != .sampled { return .notSampled }
        return .dropped
    }
}
