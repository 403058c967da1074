/// `opentelemetry.proto.resource.v1.Resource`. Always present on a `ResourceSpans` (an absent
/// resource is an empty one, as in the collector's data model).
public struct Resource: Hashable, Sendable {
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32

    public init(attributes: [KeyValue] = [], droppedAttributesCount: UInt32 = 0) {
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

/// `opentelemetry.proto.common.v1.InstrumentationScope`.
public struct InstrumentationScope: Hashable, Sendable {
    public var name: String
    public var version: String
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32

    public init(name: String = "", version: String = "", attributes: [KeyValue] = [], droppedAttributesCount: UInt32 = 0) {
        self.name = name
        self.version = version
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

public struct ScopeSpans: Hashable, Sendable {
    public var scope: InstrumentationScope
    public var spans: [Span]
    public var schemaURL: String

    public init(scope: InstrumentationScope = InstrumentationScope(), spans: [Span] = [], schemaURL: String = "") {
        self.scope = scope
        self.spans = spans
        self.schemaURL = schemaURL
    }
}

public struct ResourceSpans: Hashable, Sendable {
    public var resource: Resource
    public var scopeSpans: [ScopeSpans]
    public var schemaURL: String

    public init(resource: Resource = Resource(), scopeSpans: [ScopeSpans] = [], schemaURL: String = "") {
        self.resource = resource
        self.scopeSpans = scopeSpans
        self.schemaURL = schemaURL
    }
}

/// The unit that flows along every pipeline edge: an `ExportTraceServiceRequest` / `TracesData`.
public struct TraceData: Hashable, Sendable {
    public var resourceSpans: [ResourceSpans]

    public init(resourceSpans: [ResourceSpans] = []) {
        self.resourceSpans = resourceSpans
    }

    /// Number of spans in all resources and scopes.
    public var spanCount: Int {
        var n = 0
        for rs in resourceSpans {
            for ss in rs.scopeSpans { n += ss.spans.count }
        }
        return n
    }

    public var isEmpty: Bool { spanCount == 0 }
}
