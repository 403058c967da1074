import Atomics

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
        instruments("receiver|\(id)|\(transport)") { ReceiverCounters(id: id, transport: transport) }
    }
}
