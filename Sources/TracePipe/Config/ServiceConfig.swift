/// One configured component: its id, factory and decoded config.
public struct ConfiguredComponent: Sendable {
    public var id: ComponentID
    public var factory: ComponentFactory
    public var config: any Sendable

    /// Builds the component (for tools that assemble their own chains, like the benchmarks).
    public func instantiate(_ context: ComponentContext, next: (any TraceConsumer)?) throws -> any Component {
        try factory.create(config, context, next)
    }
}

/// One `service.pipelines.traces[/name]` entry.
public struct PipelineSpec: Sendable, Equatable {
    public var id: ComponentID
    public var receivers: [ComponentID]
    public var processors: [ComponentID]
    public var exporters: [ComponentID]
}

/// A loaded, validated config: everything needed to build and run the pipelines.
public struct ServiceConfig: Sendable {
    public var receivers: [ComponentID: ConfiguredComponent] = [:]
    public var processors: [ComponentID: ConfiguredComponent] = [:]
    public var exporters: [ComponentID: ConfiguredComponent] = [:]
    public var extensions: [ComponentID: ConfiguredComponent] = [:]
    /// `service.extensions`, in order.
    public var enabledExtensions: [ComponentID] = []
    public var pipelines: [PipelineSpec] = []
    public var telemetry = TelemetryConfig()
    /// Things worth a log line at start-up (unused components, unset variables, skipped pieces).
    public var warnings: [String] = []
    /// Unsupported pieces left out because of --skip-unsupported.
    public var skipped: [ConfigError] = []

    public func components(_ kind: ComponentKind) -> [ComponentID: ConfiguredComponent] {
        switch kind {
        case .receiver: return receivers
        case .processor: return processors
        case .exporter: return exporters
        case .extension: return extensions
        case .connector: return [:]
        }
    }
}
