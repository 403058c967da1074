import FoundationEssentials
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Runs a config on swift-service-lifecycle's `ServiceGroup`: one `ComponentService` per
/// component, listed in start order (metrics endpoint, extensions, exporters, each pipeline's
/// processors back to front, receivers) and `Readiness` last. Each starts only once
/// the one before it has started. On SIGTERM/SIGINT the group shuts services down in reverse
/// order, each after the one after it has finished: readiness first (health says 503), then
/// receivers (no new data), processors front to back (their flushes reach the exporters),
/// exporters (drain up to their deadline), extensions. A component that fails to start shuts
/// down what already started and the run throws, naming it.
public final class PipelineService: Sendable {
    public let config: ServiceConfig
    public let status = ServiceStatus()
    public let telemetry: TelemetryRegistry
    let process: any ProcessStatistics
    let logger: Logger
    let graph: PipelineGraph
    let group: any EventLoopGroup

    public init(config: ServiceConfig, logger: Logger, process: any ProcessStatistics = UnknownProcessStatistics(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.config = config
        self.logger = logger
        self.process = process
        self.group = group
        self.telemetry = TelemetryRegistry(level: config.telemetry.metrics.level)
        self.graph = try PipelineGraph.build(config, group: group, status: status, logger: logger, telemetry: telemetry, process: process)
    }

    /// The services in start order (the group stops them in reverse).
    func services() -> [ComponentService] {
        var list: [(ComponentKind?, String, any Component)] = []
        if let address = config.telemetry.metrics.address, config.telemetry.metrics.level != .none {
            list.append((nil, "metrics endpoint",
                         MetricsEndpoint(address: address, registry: telemetry, process: process, group: group, logger: logger)))
        }
        for e in graph.extensions { list.append((.extension, "\(e.id)", e.component)) }
        for e in graph.exporters { list.append((.exporter, "\(e.id)", e.component)) }
        for p in graph.processors {
            for proc in p.chain.reversed() { list.append((.processor, "\(proc.id)", proc.component)) }
        }
        for r in graph.receivers { list.append((.receiver, "\(r.id)", r.component)) }
        list.append((nil, "readiness", Readiness(status: status, logger: logger, pipelines: config.pipelines.map(\.id.description))))

        let host = ComponentHost(extensions: Dictionary(uniqueKeysWithValues: graph.extensions.map { ($0.id, $0.component) }), status: status)
        var previous: StartGate? = nil
        return list.map { kind, name, component in
            let gate = StartGate()
            let description = kind.map { "\($0.rawValue) \"\(name)\"" } ?? name
            defer { previous = gate }
            return ComponentService(description: description, component: component, host: host, after: previous, gate: gate)
        }
    }

    /// Starts everything, runs until SIGTERM or SIGINT (or until the calling task is
    /// cancelled), and shuts down in order. Throws `StartError` when a component could not start.
    public func run() async throws {
        status.set(.starting)
        let services = services()
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map {
                .init(service: $0, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: [.sigterm, .sigint],
            // The group logs each step (signal caught, service started or finished) at debug level.
            logger: logger
        ))
        do {
            try await group.run()
        } catch let error as StartError {
            throw error
        } catch {
            throw StartError(message: "\(error)")
        }
        logger.info("shutdown complete")
    }
}

public struct StartError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
