import NIOPosix
import TraceModel
import TracePipe

/// Processor unit tests load a processor's config the way tracepipe does — inside a minimal
/// traces pipeline — and build it with the context components get.
public enum ProcessorFixture {
    /// `processorsYAML` is a whole `processors:` section; the pipeline runs `pipelineProcessor`.
    public static func load(_ processorsYAML: String, pipelineProcessor: String) throws -> ServiceConfig {
        try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: """
            receivers: {otlp: {protocols: {http: }}}
            \(processorsYAML)
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], processors: [\(pipelineProcessor)], exporters: [debug]}}}
            """)
    }

    /// The decoded config of processor `id` (`type` or `type/name`) in `processorsYAML`.
    public static func config<C>(_ processorsYAML: String, id: String, as type: C.Type = C.self) throws -> C {
        let loaded = try load(processorsYAML, pipelineProcessor: id)
        let parts = id.split(separator: "/", maxSplits: 1).map(String.init)
        let componentID = ComponentID(type: parts[0], name: parts.count > 1 ? parts[1] : "")
        return loaded.processors[componentID]!.config as! C
    }

    /// `processing` as the pipeline runs it: through `SpanProcessor`, handing on to `next`.
    public static func processor<P: SpanProcessing>(_ processing: P, next: any TraceConsumer, id: String = "test") -> SpanProcessor<P> {
        SpanProcessor(processing, context: context(id), next: next)
    }

    public static func context(_ id: String) -> ComponentContext {
        ComponentContext(id: ComponentID(type: id), kind: .processor, logger: .init(label: "t"),
                         eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
    }
}

/// The end of a test pipeline: records every request that reaches it.
public actor CollectingConsumer: TraceConsumer {
    public private(set) var received: [TraceData] = []

    public init() {}

    public func consume(_ data: consuming TraceData) async throws { received.append(data) }

    /// The last request (empty when none arrived).
    public var last: TraceData { received.last ?? TraceData() }
    public var requests: Int { received.count }
    public var spans: [Span] { received.flatMap { $0.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) } } }
}
