extension TraceData {
    /// Appends another request's resources (as the collector's batching does: no merging of
    /// equal resources across requests).
    public mutating func append(_ other: TraceData) {
        resourceSpans.append(contentsOf: other.resourceSpans)
    }

    /// Splits into pieces of at most `maxSpans` spans, keeping each span under its own resource
    /// and scope. `maxSpans <= 0` means no limit.
    public func split(maxSpans: Int) -> [TraceData] {
        guard maxSpans > 0, spanCount > maxSpans else { return [self] }
        var pieces: [TraceData] = []
        var current = TraceData()
        var currentCount = 0
        for rs in resourceSpans {
            var rsPart = ResourceSpans(resource: rs.resource, scopeSpans: [], schemaURL: rs.schemaURL)
            for ss in rs.scopeSpans {
                var remaining = ss.spans[...]
                if remaining.isEmpty {
                    rsPart.scopeSpans.append(ss)
                    continue
                }
                while !remaining.isEmpty {
                    let room = maxSpans - currentCount
                    let take = remaining.prefix(room)
                    rsPart.scopeSpans.append(ScopeSpans(scope: ss.scope, spans: Array(take), schemaURL: ss.schemaURL))
                    currentCount += take.count
                    remaining = remaining.dropFirst(take.count)
                    if currentCount == maxSpans {
                        current.resourceSpans.append(rsPart)
                        pieces.append(current)
                        current = TraceData()
                        currentCount = 0
                        rsPart = ResourceSpans(resource: rs.resource, scopeSpans: [], schemaURL: rs.schemaURL)
                    }
                }
            }
            if !rsPart.scopeSpans.isEmpty { current.resourceSpans.append(rsPart) }
        }
        if currentCount > 0 || pieces.isEmpty { pieces.append(current) }
        return pieces
    }

    /// A rough count of the bytes this data holds in memory (strings, arrays, structs), used to
    /// bound queues. Shared (interned) strings are counted for each use, so it errs on the high side.
    public var estimatedByteSize: Int {
        var total = 64
        for rs in resourceSpans {
            total += 96 + Self.size(rs.resource.attributes) + rs.schemaURL.utf8.count
            for ss in rs.scopeSpans {
                total += 128 + ss.scope.name.utf8.count + ss.scope.version.utf8.count + Self.size(ss.scope.attributes)
                for s in ss.spans {
                    total += 232 + s.name.utf8.count + s.traceState.utf8.count + s.status.message.utf8.count + Self.size(s.attributes)
                    for e in s.events { total += 64 + e.name.utf8.count + Self.size(e.attributes) }
                    for l in s.links { total += 80 + l.traceState.utf8.count + Self.size(l.attributes) }
                }
            }
        }
        return total
    }

    private static func size(_ kvs: [KeyValue]) -> Int {
        var n = 0
        for kv in kvs {
            n += 48 + (kv.key.utf8.count > 15 ? kv.key.utf8.count + 32 : 0) + size(kv.value)
        }
        return n
    }

    private static func size(_ v: AnyValue) -> Int {
        switch v {
        case .string(let s): return s.utf8.count > 15 ? s.utf8.count + 32 : 0
        case .bytes(let b): return b.count + 32
        case .array(let a): return 32 + a.reduce(0) { $0 + 24 + size($1) }
        case .kvlist(let k): return 32 + size(k)
        default: return 0
        }
    }
}
