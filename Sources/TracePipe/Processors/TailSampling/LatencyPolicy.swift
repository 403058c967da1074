import TraceModel

/// `latency`: the trace's duration (latest end − earliest start) against thresholds in ms.
struct LatencyPolicy: SamplingPolicy {
    let thresholdMs: Int64
    let upperThresholdMs: Int64

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        var start = UInt64.max
        var end: UInt64 = 0
        _ = t.forEachSpan { _, s in
            start = Swift.min(start, s.startTimeUnixNano)
            end = Swift.max(end, s.endTimeUnixNano)
            return false
        }
        guard end >= start else { return .notSampled }
        let ms = Int64((end - start) / 1_000_000)
        if upperThresholdMs == 0 { return ms >= thresholdMs ? .sampled : .notSampled }
        return ms > thresholdMs && ms <= upperThresholdMs ? .sampled : .notSampled
    }
}
