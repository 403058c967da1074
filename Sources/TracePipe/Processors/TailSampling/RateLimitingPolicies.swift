import NIOConcurrencyHelpers
import TraceModel

/// A token bucket refilled continuously.
final class TokenBucket: Sendable {
    private let rate: Double
    private let capacity: Double
    private let state: NIOLockedValueBox<(tokens: Double, last: ContinuousClock.Instant?)>

    init(perSecond: Double, burst: Double) {
        rate = perSecond
        capacity = burst
        state = NIOLockedValueBox((burst, nil))
    }

    func take(_ n: Double, now: ContinuousClock.Instant) -> Bool {
        state.withLockedValue { s in
            if let last = s.last {
                let elapsed = now - last
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                s.tokens = Swift.min(capacity, s.tokens + seconds * rate)
            }
            s.last = now
            guard s.tokens >= n else { return false }
            s.tokens -= n
            return true
        }
    }
}

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
