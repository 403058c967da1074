import Atomics
import NIOConcurrencyHelpers

/// What one exporter has done, counted in one place (the own-metrics endpoint reads these).
public final class ExporterCounters: Sendable {
    public let id: ComponentID
    public let sentSpans = ManagedAtomic<Int>(0)
    public let enqueueFailedSpans = ManagedAtomic<Int>(0)
    public let queueSize = ManagedAtomic<Int>(0)
    public let queueCapacity = ManagedAtomic<Int>(0)
    /// Seconds per send attempt to the destination, whatever its outcome.
    public let sendDuration = Histogram(bounds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
    private let failed = NIOLockedValueBox<[String: Int]>([:])

    public init(id: ComponentID) {
        self.id = id
    }

    /// Spans that will not be delivered, by reason (`permanent`, `retries_exhausted`,
    /// `partial_success`, `shutdown`).
    public func addFailed(_ n: Int, reason: String) {
        guard n > 0 else { return }
        failed.withLockedValue { $0[reason, default: 0] += n }
    }

    public var failedSpans: [String: Int] { failed.withLockedValue { $0 } }
    public var failedSpansTotal: Int { failedSpans.values.reduce(0, +) }

    private let attempts = NIOLockedValueBox<(failures: [ContinuousClock.Instant], lastError: String?)>(([], nil))

    /// A send attempt failed (retryable or not): counted for pipeline health.
    public func recordSendFailure(_ error: String) {
        attempts.withLockedValue { a in
            a.failures.append(.now)
            if a.failures.count > 4096 { a.failures.removeFirst(a.failures.count - 4096) }
            a.lastError = error
        }
    }

    /// A send succeeded: delivery works again, earlier failures no longer count against health.
    public func recordSendSuccess() {
        attempts.withLockedValue { a in
            if !a.failures.isEmpty { a.failures.removeAll(keepingCapacity: true) }
        }
    }

    /// Failed attempts within the last `interval`, and the last error seen.
    public func recentFailures(within interval: Duration) -> (count: Int, lastError: String?) {
        let since = ContinuousClock.now - interval
        return attempts.withLockedValue { a in (a.failures.filter { $0 >= since }.count, a.lastError) }
    }
}

extension TelemetryRegistry {
    public func exporter(_ id: ComponentID) -> ExporterCounters {
        instruments("exporter|\(id)") { ExporterCounters(id: id) }
    }

    public var allExporters: [ExporterCounters] { all(ExporterCounters.self) }
}
