import Logging
import TraceModel

/// One request's delivery through a lane: attempts with `timeout`, backoff between retryable
/// failures (`retry_on_failure`), counters and rate-limited logs for every outcome. It stops
/// retrying when `stopRetrying` fires (shutdown: at once for a persistent queue, at the drain
/// deadline for a memory queue) and reports the request as interrupted.
struct RetryingSender: Sendable {
    enum Result {
        case delivered
        case failed(ExportError)
        /// Shutdown stopped the retries with `spans` spans not yet delivered.
        case interrupted(spans: Int)
    }

    let retry: ExporterHelperConfig.Retry
    let timeout: Duration?
    let counters: ExporterCounters
    let logger: Logger
    let logs: RateLimitedLog
    let stopRetrying: AsyncEvent

    func send(_ data: TraceData, headerEdits: [HeaderEdit], lane: any ExportLane) async -> Result {
        // What is still to be delivered: a partial delivery leaves only its rest to retry.
        var data = data
        var spans = data.spanCount
        let policy = RetryPolicy(config: retry)
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            let attemptStarted = ContinuousClock.now
            do {
                let outcome = try await lane.send(data, headerEdits: headerEdits, timeout: timeout)
                counters.recordSendDuration(seconds: Self.seconds(since: attemptStarted))
                counters.recordSendSuccess()
                counters.recordSent(spans - outcome.rejectedSpans)
                if outcome.rejectedSpans > 0 || !outcome.message.isEmpty {
                    counters.addFailed(outcome.rejectedSpans, reason: "partial_success")
                    logs.log(logger, .warning, key: "partial", "the backend rejected part of the data (partial success)",
                             metadata: ["rejected_spans": "\(outcome.rejectedSpans)", "message": "\(outcome.message)"])
                }
                return .delivered
            } catch {
                counters.recordSendDuration(seconds: Self.seconds(since: attemptStarted))
                counters.recordSendFailure(error.description)
                switch error {
                case .permanent(let message):
                    counters.addFailed(spans, reason: "permanent")
                    logs.log(logger, .error, key: "permanent", "dropping data: the backend refused it and retrying cannot help",
                             metadata: ["error": "\(message)", "dropped_spans": "\(spans)"])
                    return .failed(error)
                case .retryable(let message, let retryAfter, let partial):
                    if let partial {
                        counters.recordSent(partial.deliveredSpans)
                        if partial.rejectedSpans > 0 {
                            counters.addFailed(partial.rejectedSpans, reason: "partial_success")
                            logs.log(logger, .warning, key: "partial", "the backend rejected part of the data (partial success)",
                                     metadata: ["rejected_spans": "\(partial.rejectedSpans)", "message": "\(partial.rejectionMessage)"])
                        }
                        data = partial.rest
                        spans = data.spanCount
                    }
                    guard retry.enabled else {
                        counters.addFailed(spans, reason: "retries_disabled")
                        logs.log(logger, .error, key: "noretry", "dropping data: export failed and retry_on_failure is disabled",
                                 metadata: ["error": "\(message)", "dropped_spans": "\(spans)"])
                        return .failed(error)
                    }
                    if stopRetrying.isFired { return .interrupted(spans: spans) }
                    let delay = policy.delay(afterAttempt: attempt, retryAfter: retryAfter, random: Double.random(in: 0..<1))
                    let maxElapsed = retry.maxElapsedTime
                    if maxElapsed.nanoseconds > 0 && (ContinuousClock.now - started) + delay > maxElapsed.duration {
                        counters.addFailed(spans, reason: "retries_exhausted")
                        logs.log(logger, .error, key: "exhausted", "dropping data: no more retries left (retry_on_failure.max_elapsed_time)",
                                 metadata: ["error": "\(message)", "dropped_spans": "\(spans)", "max_elapsed_time": "\(maxElapsed)"])
                        return .failed(error)
                    }
                    logs.log(logger, .warning, key: "retry", "export failed; will retry",
                             metadata: ["error": "\(message)", "interval": "\(ConfigDuration.format(delay))", "spans": "\(spans)"])
                    // The backoff ends early when shutdown says to stop retrying.
                    if await stopRetrying.wait(until: .now + delay) || Task.isCancelled { return .interrupted(spans: spans) }
                    attempt += 1
                }
            }
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
