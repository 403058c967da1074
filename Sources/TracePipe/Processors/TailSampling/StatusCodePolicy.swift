import TraceModel

/// `status_code`: any span with one of the listed status codes.
struct StatusCodePolicy: SamplingPolicy {
    let codes: Set<Int32>

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        t.forEachSpan { _, s in codes.contains(s.status.code.rawValue) } ? .sampled : .notSampled
    }
}
