extension Array where Element == Span {
    /// The spans grouped by trace id: groups in the order their first span appears, each
    /// keeping its spans' order. When this array is the only reference to its spans (a request
    /// a receiver handed over), they are moved into the groups, not copied: a copy retains every
    /// string and list of a span, and the interned ones are shared by every request, so their
    /// counts are written from every core. A single-trace array is returned as it is.
    public consuming func groupedByTrace() -> [(id: TraceID, spans: [Span])] {
        var spans = self
        guard let first = spans.first?.traceID else { return [] }
        let single = spans.withUnsafeBufferPointer { b in b.allSatisfy { $0.traceID == first } }
        if single { return [(first, spans)] }
        var groups: [(id: TraceID, spans: [Span])] = []
        var groupOf: [TraceID: Int] = [:]
        let placeholder = Span()
        spans.withUnsafeMutableBufferPointer { buffer in
            var current = -1
            for i in buffer.indices {
                let slot = buffer.baseAddress! + i
                let id = slot.pointee.traceID
                // Spans of a trace usually come together: a lookup only when the trace changes.
                if current < 0 || groups[current].id != id {
                    if let g = groupOf[id] {
                        current = g
                    } else {
                        current = groups.count
                        groupOf[id] = current
                        groups.append((id, []))
                    }
                }
                groups[current].spans.append(slot.move())
                // The slot gets a span without heap references, so that the array's own
                // clean-up finds something valid to destroy.
                slot.initialize(to: placeholder)
            }
        }
        return groups
    }
}
