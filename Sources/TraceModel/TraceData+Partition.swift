extension TraceData {
    /// Splits the spans into `parts` pieces by `part(span)` (0..<parts), each span staying under
    /// its own resource and scope; empty pieces stay empty. When every span falls in one piece,
    /// the data is handed back whole, uncopied: a request that holds one trace costs nothing.
    public func partitioned(into parts: Int, by part: (borrowing Span) -> Int) -> [TraceData] {
        precondition(parts > 0)
        // The common case first: one destination for everything.
        var only: Int?
        var mixed = false
        scan: for rs in resourceSpans {
            for ss in rs.scopeSpans {
                for i in ss.spans.indices {
                    let p = part(ss.spans[i])
                    if only == nil { only = p } else if only != p { mixed = true; break scan }
                }
            }
        }
        var pieces = Array(repeating: TraceData(), count: parts)
        guard mixed else {
            pieces[only ?? 0] = self
            return pieces
        }
        for rs in resourceSpans {
            var byPart = [ResourceSpans?](repeating: nil, count: parts)
            for ss in rs.scopeSpans {
                var spansByPart = [[Span]](repeating: [], count: parts)
                for i in ss.spans.indices { spansByPart[part(ss.spans[i])].append(ss.spans[i]) }
                for p in 0..<parts where !spansByPart[p].isEmpty {
                    if byPart[p] == nil { byPart[p] = ResourceSpans(resource: rs.resource, scopeSpans: [], schemaURL: rs.schemaURL) }
                    byPart[p]!.scopeSpans.append(ScopeSpans(scope: ss.scope, spans: spansByPart[p], schemaURL: ss.schemaURL))
                }
            }
            for p in 0..<parts { if let r = byPart[p] { pieces[p].resourceSpans.append(r) } }
        }
        return pieces
    }

    /// Splits whole resources into `parts` pieces by `part(resource)`; see `partitioned(into:by:)`.
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
