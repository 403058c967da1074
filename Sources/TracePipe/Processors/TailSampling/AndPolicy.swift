import TraceModel

/// `and`: sampled only when every sub-policy samples.
struct AndPolicy: SamplingPolicy {
    let subPolicies: [any SamplingPolicy]

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        for p in subPolicies {
            let d = p.evaluate(id, t, now: now).normalized
            if d != .sampled { return d == .error ? .error : .notSampled }
        }
        return .sampled
    }
}
