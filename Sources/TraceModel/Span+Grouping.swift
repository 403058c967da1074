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
        let placeholder = Span()
        return spans.withUnsafeMutableBufferPointer { buffer in
            // First the group of every span (spans of a trace usually come together: a lookup
            // only when the trace changes), then each group filled at its final size.
            var ids: [TraceID] = []
            var counts: [Int] = []
            var groupOf: [TraceID: Int] = [:]
            var assignment = [Int32](repeating: 0, count: buffer.count)
            var current = -1
            for i in buffer.indices {
                let id = buffer[i].traceID
                if current < 0 || ids[current] != id {
                    if let g = groupOf[id] {
                        current = g
                    } else {
                        current = ids.count
                        groupOf[id] = current
                        ids.append(id)
                        counts.append(0)
                    }
                }
                counts[current] += 1
                assignment[i] = Int32(current)
            }
            var groups: [[Span]] = counts.map { n in
                var g: [Span] = []
                g.reserveCapacity(n)
                return g
            }
            for i in buffer.indices {
                let slot = buffer.baseAddress! + i
                groups[Int(assignment[i])].append(slot.move())
                // The slot gets a span without heap references, so that the array's own
                // clean-up finds something valid to destroy.
                slot.initialize(to: placeholder)
            }
            return zip(ids, groups).map { ($0, $1) }
        }
    }
}
