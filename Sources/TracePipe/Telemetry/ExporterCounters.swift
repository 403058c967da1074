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

/// Every exporter's counters, by component id.
public final class TelemetryRegistry: Sendable {
    public static let shared = TelemetryRegistry()
    private let exporters = NIOLockedValueBox<[ComponentID: ExporterCounters]>([:])
    let samplers = NIOLockedValueBox<[ComponentID: SamplerCounters]>([:])
    let tailSamplers = NIOLockedValueBox<[ComponentID: TailSamplingCounters]>([:])
    let receivers = NIOLockedValueBox<[String: ReceiverCounters]>([:])
    let batches = NIOLockedValueBox<[ComponentID: BatchCounters]>([:])

    /// Everything registered so far, for the metrics endpoint.
    public var snapshot: (receivers: [ReceiverCounters], exporters: [ExporterCounters], samplers: [SamplerCounters], tailSamplers: [TailSamplingCounters]) {
        (receivers.withLockedValue { Array($0.values) }.sorted { "\($0.id)\($0.transport)" < "\($1.id)\($1.transport)" },
         allExporters,
         samplers.withLockedValue { Array($0.values) }.sorted { $0.id < $1.id },
         tailSamplers.withLockedValue { Array($0.values) }.sorted { $0.id < $1.id })
    }

    public func exporter(_ id: ComponentID) -> ExporterCounters {
        exporters.counters(for: id) { ExporterCounters(id: id) }
    }

    public var allExporters: [ExporterCounters] {
        exporters.withLockedValue { Array($0.values) }.sorted { $0.id < $1.id }
    }
}

/// A sampler's decisions (`otelcol_processor_probabilistic_sampler_count_traces_sampled`).
public final class SamplerCounters: Sendable {
    public let id: ComponentID
    public let sampled = ManagedAtomic<Int>(0)
    public let dropped = ManagedAtomic<Int>(0)

    public init(id: ComponentID) {
        self.id = id
    }

    func record(sampled s: Int, dropped d: Int) {
        sampled.wrappingIncrement(by: s, ordering: .relaxed)
        dropped.wrappingIncrement(by: d, ordering: .relaxed)
    }
}

extension TelemetryRegistry {
    public func sampler(_ id: ComponentID) -> SamplerCounters {
        samplers.counters(for: id) { SamplerCounters(id: id) }
    }
}

/// Tail sampling's decisions per policy and its table (`otelcol_processor_tail_sampling_*`).
public final class TailSamplingCounters: Sendable {
    public let id: ComponentID
    public let policies: [String]
    public let policySampled: [ManagedAtomic<Int>]
    public let policyNotSampled: [ManagedAtomic<Int>]
    public let tracesSampled = ManagedAtomic<Int>(0)
    public let tracesNotSampled = ManagedAtomic<Int>(0)
    public let newTraces = ManagedAtomic<Int>(0)
    public let lateSpans = ManagedAtomic<Int>(0)
    /// Traces decided before their decision_wait because num_traces was reached.
    public let decidedEarly = ManagedAtomic<Int>(0)
    public let tracesOnMemory = ManagedAtomic<Int>(0)

    init(id: ComponentID, policies: [String]) {
        self.id = id
        self.policies = policies
        policySampled = policies.map { _ in ManagedAtomic(0) }
        policyNotSampled = policies.map { _ in ManagedAtomic(0) }
    }

    func record(policy i: Int, sampled: Bool) {
        (sampled ? policySampled : policyNotSampled)[i].wrappingIncrement(ordering: .relaxed)
    }

    func record(global sampled: Bool) {
        (sampled ? tracesSampled : tracesNotSampled).wrappingIncrement(ordering: .relaxed)
    }
}

extension TelemetryRegistry {
    public func tailSampling(_ id: ComponentID, policies: [String]) -> TailSamplingCounters {
        tailSamplers.counters(for: id, reuseIf: { $0.policies == policies }) { TailSamplingCounters(id: id, policies: policies) }
    }
}

/// What one receiver took and refused, per transport (`otelcol_receiver_*_spans`).
public final class ReceiverCounters: Sendable {
    public let id: ComponentID
    public let transport: String
    public let acceptedSpans = ManagedAtomic<Int>(0)
    public let refusedSpans = ManagedAtomic<Int>(0)

    init(id: ComponentID, transport: String) {
        self.id = id
        self.transport = transport
    }
}

extension TelemetryRegistry {
    public func receiver(_ id: ComponentID, transport: String) -> ReceiverCounters {
        receivers.counters(for: "\(id)|\(transport)") { ReceiverCounters(id: id, transport: transport) }
    }
}

/// The batch processor's sends (`otelcol_processor_batch_*`).
public final class BatchCounters: Sendable {
    public let id: ComponentID
    public let sizeTriggerSend = ManagedAtomic<Int>(0)
    public let timeoutTriggerSend = ManagedAtomic<Int>(0)
    /// Metadata combinations with a batch being collected (`metadata_keys`).
    public let metadataCardinality = ManagedAtomic<Int>(0)
    /// The collector's default boundaries for `batch_send_size`.
    public let sendSize = Histogram(bounds: [10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000,
                                             6000, 7000, 8000, 9000, 10000, 20000, 30000, 50000, 100000])

    init(id: ComponentID) {
        self.id = id
    }
}

extension TelemetryRegistry {
    public func batch(_ id: ComponentID) -> BatchCounters {
        batches.counters(for: id) { BatchCounters(id: id) }
    }

    var allBatches: [BatchCounters] { batches.withLockedValue { Array($0.values) }.sorted { $0.id < $1.id } }
}

extension NIOLockedValueBox {
    /// The counters registered under `key`, created on first use (and replaced when `reuseIf`
    /// rejects the registered ones, e.g. after a reload changed a processor's policies).
    func counters<Key: Hashable, Counters>(for key: Key, reuseIf: (Counters) -> Bool = { _ in true },
                                           make: () -> Counters) -> Counters where Value == [Key: Counters] {
        withLockedValue { all in
            if let c = all[key], reuseIf(c) { return c }
            let c = make()
            all[key] = c
            return c
        }
    }
}
