import Atomics

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
        instruments("batch|\(id)") { BatchCounters(id: id) }
    }

}
