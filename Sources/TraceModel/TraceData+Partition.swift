/// The spans of one piece of a partitioned request: `assignments[k]` is the piece of the k-th
/// span in resource, scope, span order.
public struct SpanSelection: Sendable {
    public var assignments: [UInt16]
    public var piece: UInt16
    /// How many spans the piece has.
    public var spanCount: Int

    public init(assignments: [UInt16], piece: UInt16, spanCount: Int? = nil) {
        self.assignments = assignments
        self.piece = piece
        self.spanCount = spanCount ?? assignments.reduce(0) { $0 + ($1 == piece ? 1 : 0) }
    }
}

extension TraceData {
    /// Splits the spans into `parts` pieces: `assignments[k]` is the piece of the k-th span in
    /// resource, scope, span order. Each span stays under its own resource and scope; empty
    /// pieces stay empty. When every span falls in one piece the data is handed back whole,
    /// uncopied: a request that holds one trace costs nothing.
    public func partitioned(into parts: Int, assignments: [UInt16]) -> [TraceData] {
        precondition(parts > 0)
        var pieces = Array(repeating: TraceData(), count: parts)
        guard let first = assignments.first, assignments.contains(where: { $0 != first }) else {
            pieces[Int(assignments.first ?? 0)] = self
            return pieces
        }
        var k = 0
        for rs in resourceSpans {
            var byPart = [ResourceSpans?](repeating: nil, count: parts)
            for ss in rs.scopeSpans {
                var spansByPart = [[Span]](repeating: [], count: parts)
                for i in ss.spans.indices {
                    spansByPart[Int(assignments[k])].append(ss.spans[i])
                    k += 1
                }
                for p in 0..<parts where !spansByPart[p].isEmpty {
                    if byPart[p] == nil { byPart[p] = ResourceSpans(resource: rs.resource, scopeSpans: [], schemaURL: rs.schemaURL) }
                    byPart[p]!.scopeSpans.append(ScopeSpans(scope: ss.scope, spans: spansByPart[p], schemaURL: ss.schemaURL))
                }
            }
            for p in 0..<parts { if let r = byPart[p] { pieces[p].resourceSpans.append(r) } }
        }
        return pieces
    }

    /// Splits whole resources into `parts` pieces by `part(resource)`; see `partitioned(into:assignments:)`.
    public func partitionedByResource(into parts: Int, by part: (ResourceSpans) -> Int) -> [TraceData] {
        precondition(parts > 0)
        let assigned = resourceSpans.map(part)
        var pieces = Array(repeating: TraceData(), count: parts)
        if let first = assigned.first, assigned.allSatisfy({ $0 == first }) {
            pieces[first] = self
            return pieces
        }
        for (rs, p) in zip(resourceSpans, assigned) { pieces[p].resourceSpans.append(rs) }
        return pieces
    }
}
