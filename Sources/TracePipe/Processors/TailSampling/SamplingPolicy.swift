import TraceModel

/// What one policy says about one trace (the collector's decision values).
public enum SamplingDecision: Sendable, Equatable {
    case notSampled
    case sampled
    /// `invert_match` policies (deprecated upstream, still common).
    case invertSampled
    case invertNotSampled
    /// A `drop` policy matched: vetoes every other decision.
    case dropped
    case error
}

/// The spans of one trace buffered so far, with the resource and scope each came under.
public struct TraceBuffer: Sendable {
    public struct Chunk: Sendable {
        public var resource: Resource
        public var scope: InstrumentationScope
        public var schemaURLs: (resource: String, scope: String)
        public var spans: [Span]
    }

    public var chunks: [Chunk] = []
    public var spanCount = 0

    public init() {}

    public mutating func append(_ chunk: Chunk) {
        spanCount += chunk.spans.count
        chunks.append(chunk)
    }

    /// Every span with its resource, for policies that look at both.
    public func forEachSpan(_ body: (Resource, Span) -> Bool) -> Bool {
        for c in chunks {
            for s in c.spans where body(c.resource, s) { return true }
        }
        return false
    }

    /// The first value of `key` in any resource or span attributes that satisfies `match`.
    public func anyAttribute(_ key: String, _ match: (AnyValue) -> Bool) -> Bool {
        for c in chunks {
            if let v = c.resource.attributes[attribute: key], match(v) { return true }
            for s in c.spans {
                for kv in s.attributes where kv.key == key && match(kv.value) { return true }
            }
        }
        return false
    }

    /// The buffered spans as one request, resources and scopes rebuilt.
    public var traceData: TraceData {
        var data = TraceData()
        for c in chunks {
            let ss = ScopeSpans(scope: c.scope, spans: c.spans, schemaURL: c.schemaURLs.scope)
            if let i = data.resourceSpans.lastIndex(where: { $0.resource == c.resource && $0.schemaURL == c.schemaURLs.resource }) {
                if let j = data.resourceSpans[i].scopeSpans.lastIndex(where: { $0.scope == c.scope && $0.schemaURL == c.schemaURLs.scope }) {
                    data.resourceSpans[i].scopeSpans[j].spans += c.spans
                } else {
                    data.resourceSpans[i].scopeSpans.append(ss)
                }
            } else {
                data.resourceSpans.append(ResourceSpans(resource: c.resource, scopeSpans: [ss], schemaURL: c.schemaURLs.resource))
            }
        }
        return data
    }
}

/// One tail-sampling policy. Stateful policies (rate limits) guard their state themselves.
public protocol SamplingPolicy: Sendable {
    func evaluate(_ traceID: TraceID, _ trace: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision
}

extension SamplingDecision {
    /// Inside `and`/`composite`, inverted decisions count as their plain meaning.
    var normalized: SamplingDecision {
        switch self {
        case .invertSampled: return .sampled
        case .invertNotSampled: return .notSampled
        default: return self
        }
    }

    /// The collector's combination over all policies: a drop vetoes, an inverted "not sampled"
    /// comes next, then any sampled (plain or inverted); otherwise not sampled.
    static func combine(_ decisions: [SamplingDecision]) -> Bool {
        if decisions.contains(.dropped) { return false }
        if decisions.contains(.sampled) || decisions.contains(.invertSampled) {
            // (In 0.156 an invert-not-sampled does not veto another policy's sample.)
            return true
        }
        return false
    }
}
