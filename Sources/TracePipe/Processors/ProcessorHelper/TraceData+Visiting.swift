import TraceModel

/// Where an attribute list sits in the OTLP tree.
public enum AttributeOwner: Sendable {
    case resource, scope, span, event, link
}

/// The walks processors make over a request, written once: every span with its resource and
/// scope, every attribute list, and keeping a subset of spans. All change the data in place.
extension TraceData {
    /// Calls `body` with every span and the resource and scope it belongs to.
    @inline(__always)
    public mutating func forEachSpan(_ body: (inout Span, Resource, InstrumentationScope) throws -> Void) rethrows {
        for r in resourceSpans.indices {
            let resource = resourceSpans[r].resource
            for s in resourceSpans[r].scopeSpans.indices {
                let scope = resourceSpans[r].scopeSpans[s].scope
                for i in resourceSpans[r].scopeSpans[s].spans.indices {
                    try body(&resourceSpans[r].scopeSpans[s].spans[i], resource, scope)
                }
            }
        }
    }

    /// Calls `body` with every resource's attributes.
    @inline(__always)
    public mutating func forEachResource(_ body: (inout Resource) throws -> Void) rethrows {
        for r in resourceSpans.indices { try body(&resourceSpans[r].resource) }
    }

    /// Calls `body` with every attribute list: each resource's, then for each scope its own and
    /// each span's followed by its events' and links'.
    @inline(__always)
    public mutating func forEachAttributeList(_ body: (inout [KeyValue], AttributeOwner) throws -> Void) rethrows {
        for r in resourceSpans.indices {
            try body(&resourceSpans[r].resource.attributes, .resource)
            for s in resourceSpans[r].scopeSpans.indices {
                try body(&resourceSpans[r].scopeSpans[s].scope.attributes, .scope)
                for i in resourceSpans[r].scopeSpans[s].spans.indices {
                    try body(&resourceSpans[r].scopeSpans[s].spans[i].attributes, .span)
                    for e in resourceSpans[r].scopeSpans[s].spans[i].events.indices {
                        try body(&resourceSpans[r].scopeSpans[s].spans[i].events[e].attributes, .event)
                    }
                    for l in resourceSpans[r].scopeSpans[s].spans[i].links.indices {
                        try body(&resourceSpans[r].scopeSpans[s].spans[i].links[l].attributes, .link)
                    }
                }
            }
        }
    }

    /// Keeps the spans `keep` returns true for (it may change them first) and drops scopes and
    /// resources left without spans. Returns how many spans were kept.
    @inline(__always)
    @discardableResult
    public mutating func keepSpans(_ keep: (inout Span) throws -> Bool) rethrows -> Int {
        var kept = 0
        for r in resourceSpans.indices {
            for s in resourceSpans[r].scopeSpans.indices {
                var write = 0
                let count = resourceSpans[r].scopeSpans[s].spans.count
                for i in 0..<count where try keep(&resourceSpans[r].scopeSpans[s].spans[i]) {
                    if write != i { resourceSpans[r].scopeSpans[s].spans.swapAt(write, i) }
                    write += 1
                }
                resourceSpans[r].scopeSpans[s].spans.removeLast(count - write)
                kept += write
            }
            resourceSpans[r].scopeSpans.removeAll { $0.spans.isEmpty }
        }
        resourceSpans.removeAll { $0.scopeSpans.isEmpty }
        return kept
    }
}
