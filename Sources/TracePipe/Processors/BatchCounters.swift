import Prometheus

/// The batch processor's sends (`otelcol_processor_batch_*`, at level `normal`).
public final class BatchCounters: Sendable {
    let sizeTriggerSend: Counter
    let timeoutTriggerSend: Counter
    /// Metadata combinations with a batch being collected (`metadata_keys`).
    let metadataCardinality: Gauge
    let sendSize: ValueHistogram
    /// The collector's default boundaries for `batch_send_size`.
    static let sendSizeBuckets: [Double] = [10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000,
                                            6000, 7000, 8000, 9000, 10000, 20000, 30000, 50000, 100000]

    init(id: ComponentID, registry: TelemetryRegistry) {
        let p = registry.registry(for: .normal)
        let labels = [("processor", "\(id)")]
        sendSize = p.valueHistogram(name: "otelcol_processor_batch_batch_send_size", labels: labels, buckets: Self.sendSizeBuckets,
                                        help: "Number of spans in each batch sent on.")
        sizeTriggerSend = p.counter(name: "otelcol_processor_batch_batch_size_trigger_send", labels: labels,
                                        help: "Batches sent because send_batch_size was reached.")
        timeoutTriggerSend = p.counter(name: "otelcol_processor_batch_timeout_trigger_send", labels: labels,
                                           help: "Batches sent because the timeout expired.")
        metadataCardinality = p.gauge(name: "otelcol_processor_batch_metadata_cardinality", labels: labels,
                                          help: "Metadata-value combinations with a batch being collected.")
    }
}

extension TelemetryRegistry {
    public func batch(_ id: ComponentID) -> BatchCounters {
        BatchCounters(id: id, registry: self)
    }
}
