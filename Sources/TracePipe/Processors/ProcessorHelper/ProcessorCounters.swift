import Prometheus

/// Spans into and out of a processor (`otelcol_processor_incoming_items`,
/// `otelcol_processor_outgoing_items`), kept by `SpanProcessor` for every processor it runs.
public final class ProcessorCounters: Sendable {
    let incoming: Counter
    let outgoing: Counter

    init(id: ComponentID, registry: TelemetryRegistry) {
        let p = registry.registry(for: .basic)
        let labels = [("processor", "\(id)"), ("otel_signal", "traces")]
        incoming = p.counter(name: "otelcol_processor_incoming_items", labels: labels, help: "Items passed to the processor.")
        outgoing = p.counter(name: "otelcol_processor_outgoing_items", labels: labels, help: "Items emitted by the processor.")
    }

    func record(incoming i: Int, outgoing o: Int) {
        incoming.increment(by: Int64(i))
        outgoing.increment(by: Int64(o))
    }
}

extension TelemetryRegistry {
    public func processor(_ id: ComponentID) -> ProcessorCounters {
        ProcessorCounters(id: id, registry: self)
    }
}
