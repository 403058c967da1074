import TraceModel

/// `trace_flags`: any span with the W3C sampled flag.
struct TraceFlagsPolicy: SamplingPolicy {
    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        t.forEachSpan { _, s in s.flags & 1 == 1 } ? .sampled : .notSampled
    }
}
