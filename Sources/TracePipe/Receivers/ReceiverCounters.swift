import Prometheus

/// What one receiver took and refused, per transport (`otelcol_receiver_*_spans`).
public final class ReceiverCounters: Sendable {
    let accepted: Counter
    let refused: Counter

    init(id: ComponentID, transport: String, registry: TelemetryRegistry) {
        let p = registry.registry(for: .basic)
        let labels = [("receiver", "\(id)"), ("transport", transport)]
        accepted = p.counter(name: "otelcol_receiver_accepted_spans", labels: labels, help: "Spans successfully pushed into the pipeline.")
        refused = p.counter(name: "otelcol_receiver_refused_spans", labels: labels, help: "Spans that could not be pushed into the pipeline.")
    }
}

extension TelemetryRegistry {
    public func receiver(_ id: ComponentID, transport: String) -> ReceiverCounters {
        ReceiverCounters(id: id, transport: transport, registry: self)
    }
}
