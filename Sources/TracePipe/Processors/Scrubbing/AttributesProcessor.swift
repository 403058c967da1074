import TraceModel

/// `processors.attributes`: insert, update, upsert, delete, hash, extract and convert span
/// attributes, on the spans `include`/`exclude` select.
public struct AttributesProcessorConfig: Decodable, Sendable {
    var actions: [AttributeAction]
    var include: MatchProperties?
    var exclude: MatchProperties?

    enum Keys: String, CodingKey { case actions, include, exclude }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        actions = try c.value(.actions, or: [])
        guard !actions.isEmpty else { throw decoder.invalid("actions", "missing required field \"actions\": at least one action") }
        include = try c.decodeIfPresent(MatchProperties.self, forKey: .include)
        exclude = try c.decodeIfPresent(MatchProperties.self, forKey: .exclude)
    }
}

public final class AttributesProcessor: Processor {
    let config: AttributesProcessorConfig
    let runner: AttributeActionRunner
    let next: any TraceConsumer

    public init(config: AttributesProcessorConfig, next: any TraceConsumer) {
        self.config = config
        self.runner = AttributeActionRunner(config.actions)
        self.next = next
    }

    public func start(_ host: ComponentHost) async throws {}
    public func shutdown() async {}

    public func consume(_ data: consuming TraceData) async throws {
        var out = data
        let metadata = RequestMetadata.current
        var scratch = AttributeActionRunner.Scratch()
        for r in out.resourceSpans.indices {
            let resource = out.resourceSpans[r].resource
            for s in out.resourceSpans[r].scopeSpans.indices {
                let scope = out.resourceSpans[r].scopeSpans[s].scope
                for i in out.resourceSpans[r].scopeSpans[s].spans.indices {
                    if config.include != nil || config.exclude != nil {
                        let span = out.resourceSpans[r].scopeSpans[s].spans[i]
                        if let inc = config.include, !inc.matches(span, resource: resource, scope: scope) { continue }
                        if let exc = config.exclude, exc.matches(span, resource: resource, scope: scope) { continue }
                    }
                    runner.apply(to: &out.resourceSpans[r].scopeSpans[s].spans[i].attributes, metadata: metadata, scratch: &scratch)
                }
            }
        }
        try await next.consume(consume out)
    }
}

/// `processors.resource`: the same actions on resource attributes.
public struct ResourceProcessorConfig: Decodable, Sendable {
    var attributes: [AttributeAction]

    enum Keys: String, CodingKey { case attributes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        attributes = try c.value(.attributes, or: [])
        guard !attributes.isEmpty else { throw decoder.invalid("attributes", "missing required field \"attributes\": at least one action") }
    }
}

public final class ResourceProcessor: Processor {
    let runner: AttributeActionRunner
    let next: any TraceConsumer

    public init(config: ResourceProcessorConfig, next: any TraceConsumer) {
        runner = AttributeActionRunner(config.attributes)
        self.next = next
    }

    public func start(_ host: ComponentHost) async throws {}
    public func shutdown() async {}

    public func consume(_ data: consuming TraceData) async throws {
        var out = data
        let metadata = RequestMetadata.current
        for r in out.resourceSpans.indices {
            runner.apply(to: &out.resourceSpans[r].resource.attributes, metadata: metadata)
        }
        try await next.consume(consume out)
    }
}
