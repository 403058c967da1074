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
    /// It runs on every request an exporter queues, so it reads the arrays through their buffers:
    /// iterating them by value would retain and release every string and array it passes.
    public var estimatedByteSize: Int {
        var total = 64
        resourceSpans.withUnsafeBufferPointer { rss in
            for r in rss.indices {
                total += 96 + Self.size(rss[r].resource.attributes) + rss[r].schemaURL.utf8.count
                rss[r].scopeSpans.withUnsafeBufferPointer { sss in
                    for i in sss.indices {
                        total += 128 + sss[i].scope.name.utf8.count + sss[i].scope.version.utf8.count + Self.size(sss[i].scope.attributes)
                        sss[i].spans.withUnsafeBufferPointer { total += Self.size($0) }
                    }
                }
            }
        }
        return total
    }

    /// `estimatedByteSize` of these spans alone (without their resource and scope).
    public static func estimatedByteSize(of spans: [Span]) -> Int {
        spans.withUnsafeBufferPointer { size($0) }
    }

    private static func size(_ spans: UnsafeBufferPointer<Span>) -> Int {
        var n = 0
        for i in spans.indices {
            n += 232 + spans[i].name.utf8.count + spans[i].traceState.utf8.count + spans[i].status.message.utf8.count
                + size(spans[i].attributes)
            // Most spans have no events or links: asking first skips a retain and release of
            // the list (reading its buffer through the span retains it).
            if !spans[i].events.isEmpty {
                spans[i].events.withUnsafeBufferPointer { es in
                    for e in es.indices { n += 64 + es[e].name.utf8.count + size(es[e].attributes) }
                }
            }
            if !spans[i].links.isEmpty {
                spans[i].links.withUnsafeBufferPointer { ls in
                    for l in ls.indices { n += 80 + ls[l].traceState.utf8.count + size(ls[l].attributes) }
                }
            }
        }
        return n
    }

    /// Inlined where a span's lists are read: called with the list as its argument, the
    /// caller retained and released the list around every call.
    @inline(__always)
    private static func size(_ kvs: [KeyValue]) -> Int {
        kvs.withUnsafeBufferPointer { kv in
            var n = 0
            for i in kv.indices {
                let keyBytes = kv[i].key.utf8.count
                n += 48 + (keyBytes > 15 ? keyBytes + 32 : 0) + size(kv[i].value)
            }
            return n
        }
    }

    /// A kvlist value's list: out of line, which the recursion needs.
    @inline(never)
    private static func nestedSize(_ kvs: [KeyValue]) -> Int { size(kvs) }

    /// The value's own heap bytes. Borrowed and inlined where it is read, so that a string value
    /// is not copied (and retained) to be measured.
    @inline(__always)
    private static func size(_ v: borrowing AnyValue) -> Int {
        switch v {
        case .string(let s): return s.utf8.count > 15 ? s.utf8.count + 32 : 0
        case .bytes(let b): return b.count + 32
        case .array(let a): return 32 + a.reduce(0) { $0 + 24 + size($1) }
        case .kvlist(let k): return 32 + nestedSize(k)
        default: return 0
        }
    }
}
