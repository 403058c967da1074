import Atomics

/// Spans into and out of a processor (`otelcol_processor_incoming_items`,
/// `otelcol_processor_outgoing_items`), kept by `SpanProcessor` for every processor it runs.
public final class ProcessorCounters: Sendable {
    public let id: ComponentID
    public let incomingItems = ManagedAtomic<Int>(0)
    public let outgoingItems = ManagedAtomic<Int>(0)

    init(id: ComponentID) {
        self.id = id
    }

    func record(incoming: Int, outgoing: Int) {
        incomingItems.wrappingIncrement(by: incoming, ordering: .relaxed)
        outgoingItems.wrappingIncrement(by: outgoing, ordering: .relaxed)
    }
}

extension TelemetryRegistry {
    public func processor(_ id: ComponentID) -> ProcessorCounters {
        instruments("processor|\(id)") { ProcessorCounters(id: id) }
    }
}
