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

public struct AttributesProcessor: SpanProcessing, BuiltFromConfig {
    let config: AttributesProcessorConfig
    let runner: AttributeActionRunner

    public init(config: AttributesProcessorConfig) {
        self.config = config
        self.runner = AttributeActionRunner(config.actions)
    }

    public func process(_ data: inout TraceData) throws {
        let metadata = RequestMetadata.current
        var scratch = AttributeActionRunner.Scratch()
        let filtered = config.include != nil || config.exclude != nil
        data.forEachSpan { span, resource, scope in
            if filtered {
                if let inc = config.include, !inc.matches(span, resource: resource, scope: scope) { return }
                if let exc = config.exclude, exc.matches(span, resource: resource, scope: scope) { return }
            }
            runner.apply(to: &span.attributes, metadata: metadata, scratch: &scratch)
        }
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

public struct ResourceProcessor: SpanProcessing, BuiltFromConfig {
    let runner: AttributeActionRunner

    public init(config: ResourceProcessorConfig) {
        runner = AttributeActionRunner(config.attributes)
    }

    public func process(_ data: inout TraceData) throws {
        let metadata = RequestMetadata.current
        data.forEachResource { runner.apply(to: &$0.attributes, metadata: metadata) }
    }
}
