/// Exponential backoff with jitter, as the collector's `retry_on_failure`.
struct RetryPolicy: Sendable {
    let config: ExporterHelperConfig.Retry

    /// The delay before attempt `attempt + 1` (attempt counts from 0), honouring a server's
    /// Retry-After; `random` is a uniform value in 0..<1.
    func delay(afterAttempt attempt: Int, retryAfter: Duration?, random: Double) -> Duration {
        var interval = Double(config.initialInterval.nanoseconds)
        for _ in 0..<attempt {
            interval = min(interval * config.multiplier, Double(config.maxInterval.nanoseconds))
        }
        let rf = config.randomizationFactor
        let jittered = interval * (1 - rf + 2 * rf * random)
        var d = Duration.nanoseconds(Int64(jittered))
        if let r = retryAfter, r > d { d = r }
        return d
    }
}
