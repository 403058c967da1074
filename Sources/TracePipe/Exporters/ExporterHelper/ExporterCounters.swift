import Atomics
import NIOConcurrencyHelpers
import Prometheus

/// What one exporter has done: its instruments (`otelcol_exporter_*`) and what the health check
/// reads of it (totals, queue, recent send failures).
public final class ExporterCounters: Sendable {
    public let id: ComponentID
    private let registry: PrometheusCollectorRegistry
    private let sent: Counter
    private let enqueueFailed: Counter
    /// Seconds per send attempt to the destination, whatever its outcome (a tracepipe addition).
    private let sendDuration: ValueHistogram
    private let labels: [(String, String)]
    /// Totals and queue figures the health check's detail shows.
    private let sentTotal = ManagedAtomic<Int>(0)
    /// The queue's gauges (made on the first report: exporters without a queue show none) and
    /// the last figures reported.
    private let queue = NIOLockedValueBox<(gauges: (size: Gauge, capacity: Gauge)?, size: Int, capacity: Int)>((nil, 0, 0))
    /// Failed spans by reason, with their counters; a `reason="none"` zero series until the first.
    private let failed = NIOLockedValueBox<(totals: [String: Int], counters: [String: Counter])>(([:], [:]))

    static let failedName = "otelcol_exporter_send_failed_spans"
    static let failedHelp = "Spans in failed attempts to send to destination (after retries), by reason."

    init(id: ComponentID, registry: TelemetryRegistry) {
        self.id = id
        let p = registry.registry(for: .basic)
        self.registry = p
        labels = [("exporter", "\(id)")]
        sent = p.counter(name: "otelcol_exporter_sent_spans", labels: labels, help: "Spans successfully sent to destination.")
        enqueueFailed = p.counter(name: "otelcol_exporter_enqueue_failed_spans", labels: labels,
                                      help: "Spans that failed to be added to the sending queue.")
        sendDuration = p.valueHistogram(name: "tracepipe_exporter_send_duration_seconds", labels: labels,
                                            buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
                                            help: "Seconds per send attempt to the destination, whatever its outcome (a tracepipe addition).")
        let none = p.counter(name: Self.failedName, labels: labels + [("reason", "none")], help: Self.failedHelp)
        failed.withLockedValue { $0.counters["none"] = none }
    }

    func recordSent(_ n: Int) {
        sent.increment(by: Int64(n))
        sentTotal.wrappingIncrement(by: n, ordering: .relaxed)
    }

    func recordEnqueueFailed(_ n: Int) {
        enqueueFailed.increment(by: Int64(n))
    }

    func recordSendDuration(seconds: Double) {
        sendDuration.record(seconds)
    }

    /// The sending queue's size and capacity (in its sizer's units); exporters without a queue
    /// never call this and show no queue series.
    func setQueue(size: Int? = nil, capacity: Int? = nil) {
        queue.withLockedValue { q in
            if q.gauges == nil {
                let l = labels + [("data_type", "traces")]
                q.gauges = (registry.gauge(name: "otelcol_exporter_queue_size", labels: l, help: "Current size of the retry queue (in its sizer's units)."),
                            registry.gauge(name: "otelcol_exporter_queue_capacity", labels: l, help: "Fixed capacity of the retry queue (in its sizer's units)."))
            }
            let gauges = q.gauges!
            if let size {
                q.size = size
                gauges.size.set(Int64(size))
            }
            if let capacity {
                q.capacity = capacity
                gauges.capacity.set(Int64(capacity))
            }
        }
    }

    /// Spans that will not be delivered, by reason (`permanent`, `retries_exhausted`,
    /// `partial_success`, `shutdown`, …).
    public func addFailed(_ n: Int, reason: String) {
        guard n > 0 else { return }
        let counter = failed.withLockedValue { f -> Counter in
            if f.totals.isEmpty, let none = f.counters.removeValue(forKey: "none") { registry.unregisterCounter(none) }
            f.totals[reason, default: 0] += n
            if let c = f.counters[reason] { return c }
            let c = registry.counter(name: Self.failedName, labels: labels + [("reason", reason)], help: Self.failedHelp)
            f.counters[reason] = c
            return c
        }
        counter.increment(by: Int64(n))
    }

    private let damaged = NIOLockedValueBox<(records: Counter, bytes: Counter)?>(nil)

    /// A persistent queue found damaged records at start (set aside, or cut back to their
    /// intact length). The series exist only once something was found.
    func recordDamaged(records: Int, bytes: Int) {
        let c = damaged.withLockedValue { d in
            if d == nil {
                d = (registry.counter(name: "tracepipe_exporter_queue_damaged_records", labels: labels,
                                      help: "Persistent queue records found damaged at start and set aside (a tracepipe addition)."),
                     registry.counter(name: "tracepipe_exporter_queue_damaged_bytes", labels: labels,
                                      help: "Bytes of damaged persistent queue files set aside at start (a tracepipe addition)."))
            }
            return d!
        }
        c.records.increment(by: Int64(records))
        c.bytes.increment(by: Int64(bytes))
    }

    public var sentSpans: Int { sentTotal.load(ordering: .relaxed) }
    public var failedSpans: [String: Int] { failed.withLockedValue { $0.totals } }
    public var failedSpansTotal: Int { failedSpans.values.reduce(0, +) }
    public var queueSize: Int { queue.withLockedValue { $0.size } }
    public var queueCapacity: Int { queue.withLockedValue { $0.capacity } }

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
