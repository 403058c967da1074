import TraceModel

/// `bytes_limiting`: at most `bytes_per_second` of encoded trace data.
struct BytesLimitingPolicy: SamplingPolicy {
    let bucket: TokenBucket

    init(bytesPerSecond: Int64, burst: Int64?) {
        bucket = TokenBucket(perSecond: Double(bytesPerSecond), burst: Double(burst ?? bytesPerSecond * 2))
    }

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        let size = OTLPProtobufEncoder.withEncoded(t.traceData) { $0.count }
        return bucket.take(Double(size), now: now) ? .sampled : .notSampled
    }
}
