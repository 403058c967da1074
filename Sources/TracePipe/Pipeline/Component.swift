import Logging
import NIOCore
import TraceModel

/// Every pipeline edge is this one call. A thrown error travels back to the receiver, which turns
/// it into the answer its client gets (see `PipelineError`). The data is handed over, not lent:
/// a processor that owns the only reference changes it in place instead of copying every span.
public protocol TraceConsumer: Sendable {
    func consume(_ data: consuming TraceData) async throws
}

extension TraceConsumer {
    /// Hands `data` on with `metadata` as its request metadata (see `RequestMetadata`), still
    /// as the only reference to it.
    public func consume(_ data: consuming TraceData, metadata: [String: [String]]) async throws {
        var pending: TraceData? = consume data
        try await RequestMetadata.$current.withValue(metadata) {
            let owned = pending!
            pending = nil
            try await self.consume(consume owned)
        }
    }
}

/// Anything with a lifecycle: started in dependency order, shut down in reverse.
public protocol Component: AnyObject, Sendable {
    func start(_ host: ComponentHost) async throws
    /// Stops the component, flushing what it holds. Must not throw: shutdown continues regardless.
    func shutdown() async
}

extension Component {
    /// Most components have nothing to set up or flush.
    public func start(_ host: ComponentHost) async throws {}
    public func shutdown() async {}
}

public protocol Receiver: Component {}
public protocol Processor: Component, TraceConsumer {}
public protocol Exporter: Component, TraceConsumer {
    /// The storage extension of the exporter's persistent sending queue, if it has one: then
    /// `consume` returns only once the data is written to disk. A pipeline whose exporters all
    /// have one is durable: its clients' acknowledgements mean "on disk" (see
    /// `ComponentContext.pipelineStorage`).
    var persistentQueueStorage: ComponentID? { get }
    /// A durable pipeline's batch processor passes requests straight on and leaves its batching
    /// to the exporters' queues: an exporter without batching of its own (`sending_queue.batch`)
    /// takes these settings. Called while the graph is built, before `start`.
    func adoptBatching(_ batch: ExporterHelperConfig.Batch)
}

extension Exporter {
    public var persistentQueueStorage: ComponentID? { nil }
    public func adoptBatching(_ batch: ExporterHelperConfig.Batch) {}
}
public protocol Extension: Component {}

public enum ComponentKind: String, Sendable, CaseIterable {
    case receiver, processor, exporter, `extension`, connector

    /// The top-level config section holding components of this kind.
    public var section: String {
        switch self {
        case .receiver: return "receivers"
        case .processor: return "processors"
        case .exporter: return "exporters"
        case .extension: return "extensions"
        case .connector: return "connectors"
        }
    }
}

/// Errors a consumer throws to say why it did not take the data; receivers map them to answers.
public enum PipelineError: Error, Sendable, CustomStringConvertible {
    /// Temporarily cannot take data (queue full, memory limit): clients should retry later.
    case refused(String, retryAfter: Duration?)
    /// The data can never be taken: retrying will not help.
    case permanent(String)
    /// The data itself is malformed.
    case invalidData(String)

    public var description: String {
        switch self {
        case .refused(let m, _): return m
        case .permanent(let m): return m
        case .invalidData(let m): return m
        }
    }
}

/// What a component is given when it is created.
public struct ComponentContext: Sendable {
    public var id: ComponentID
    public var kind: ComponentKind
    public var logger: Logger
    public var eventLoopGroup: any EventLoopGroup
    public var status: ServiceStatus
    /// The service's instruments: a component declares its own here (see `TelemetryRegistry`).
    public var telemetry: TelemetryRegistry
    /// The process's memory and CPU, from the platform the executable runs on.
    public var process: any ProcessStatistics
    /// For a processor: the pipeline it belongs to.
    public var pipeline: ComponentID?
    /// For a processor of a durable pipeline (every exporter it feeds stores data on disk before
    /// acknowledging it): the storage extension of its first exporter's queue. What a client is
    /// told was accepted must then never wait in memory only: the batch processor passes
    /// requests straight on (the queues batch), tail sampling journals what it holds there.
    public var pipelineStorage: ComponentID?
    public var durablePipeline: Bool { pipelineStorage != nil }

    public init(id: ComponentID, kind: ComponentKind, logger: Logger, eventLoopGroup: any EventLoopGroup, status: ServiceStatus,
                telemetry: TelemetryRegistry = TelemetryRegistry(), process: any ProcessStatistics = UnknownProcessStatistics()) {
        self.id = id
        self.kind = kind
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        self.status = status
        self.telemetry = telemetry
        self.process = process
    }
}

/// What a component sees of the running service when it starts.
public struct ComponentHost: Sendable {
    public var extensions: [ComponentID: any Extension]
    public var status: ServiceStatus

    public init(extensions: [ComponentID: any Extension], status: ServiceStatus) {
        self.extensions = extensions
        self.status = status
    }
}
