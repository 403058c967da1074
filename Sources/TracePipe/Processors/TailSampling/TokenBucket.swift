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
