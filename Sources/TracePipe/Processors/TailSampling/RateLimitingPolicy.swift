import TraceModel

/// `rate_limiting`: at most `spans_per_second` spans of sampled traces (burst: 2 seconds' worth).
struct RateLimitingPolicy: SamplingPolicy {
    let bucket: TokenBucket

    init(spansPerSecond: Int64, burst: Int64?) {
        bucket = TokenBucket(perSecond: Double(spansPerSecond), burst: Double(burst ?? spansPerSecond * 2))
    }

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        bucket.take(Double(t.spanCount), now: now) ? .sampled : .notSampled
    }
}
