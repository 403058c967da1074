import TraceModel

/// `span_count`: how many spans the trace has.
struct SpanCountPolicy: SamplingPolicy {
    let minSpans: Int
    let maxSpans: Int

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        t.spanCount >= minSpans && (maxSpans == 0 || t.spanCount <= maxSpans) ? .sampled : .notSampled
    }
}
