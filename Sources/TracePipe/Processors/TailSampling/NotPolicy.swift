import TraceModel

/// `not`: inverts its sub-policy.
struct NotPolicy: SamplingPolicy {
    let subPolicy: any SamplingPolicy

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        switch subPolicy.evaluate(id, t, now: now).normalized {
        case .sampled: return .notSampled
        case .notSampled: return .sampled
        default: return .error
        }
    }
}
