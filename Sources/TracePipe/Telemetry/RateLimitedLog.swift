import Logging
import NIOConcurrencyHelpers

/// Logs a recurring problem at most once per interval per key, saying how many were suppressed,
/// so an outage explains itself without flooding stderr.
final class RateLimitedLog: Sendable {
    private let interval: Duration
    private let state = NIOLockedValueBox<[String: (last: ContinuousClock.Instant, suppressed: Int)]>([:])

    init(interval: Duration = .seconds(5)) {
        self.interval = interval
    }

    func log(_ logger: Logger, _ level: Logger.Level, key: String, _ message: @autoclosure () -> String, metadata: Logger.Metadata = [:]) {
        let now = ContinuousClock.now
        let suppressed: Int? = state.withLockedValue { s in
            if let e = s[key], now - e.last < interval {
                s[key] = (e.last, e.suppressed + 1)
                return nil
            }
            let n = s[key]?.suppressed ?? 0
            s[key] = (now, 0)
            return n
        }
        guard let suppressed else { return }
        var md = metadata
        if suppressed > 0 { md["suppressed_since_last"] = "\(suppressed)" }
        logger.log(level: level, "\(message())", metadata: md)
    }
}
