import TraceModel

/// `always_sample`.
struct AlwaysSamplePolicy: SamplingPolicy {
    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision { .sampled }
}
