import Dispatch
import Foundation
import Logging
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

/// Runs a config: builds the graph, starts extensions, exporters, processors (downstream
/// first) and receivers, reports ready, and on SIGTERM/SIGINT stops them in reverse so that
/// everything accepted is flushed downstream before exit.
public final class PipelineService: Sendable {
    public let config: ServiceConfig
    public let status = ServiceStatus()
    let logger: Logger
    let graph: PipelineGraph
    let group: any EventLoopGroup
    private let metrics = NIOLockedValueBox<MetricsServer?>(nil)

    public init(config: ServiceConfig, logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.config = config
        self.logger = logger
        self.group = group
        self.graph = try PipelineGraph.build(config, group: group, status: status, logger: logger)
    }

    private var host: ComponentHost {
        ComponentHost(extensions: Dictionary(uniqueKeysWithValues: graph.extensions.map { ($0.id, $0.component) }), status: status)
    }

    /// Starts everything; on a failure, stops what already started and rethrows with the component id.
    public func start() async throws {
        status.set(.starting)
        var started: [any Component] = []
        let host = self.host
        func start(_ kind: ComponentKind, _ id: ComponentID, _ c: any Component) async throws {
            do {
                try await c.start(host)
                started.append(c)
            } catch {
                for s in started.reversed() { await s.shutdown() }
                throw StartError(message: "cannot start \(kind.rawValue) \"\(id)\": \(error)")
            }
        }
        if let address = config.telemetry.metrics.address, config.telemetry.metrics.level != .none {
            do {
                let m = try await MetricsServer.start(address, level: config.telemetry.metrics.level, group: group)
                metrics.withLockedValue { $0 = m }
                logger.info("own metrics served", metadata: ["endpoint": "\(address.host):\(m.port)", "path": "/metrics"])
            } catch {
                throw StartError(message: "cannot serve metrics on \(address) (service.telemetry.metrics): \(error)")
            }
        }
        for e in graph.extensions { try await start(.extension, e.id, e.component) }
        for e in graph.exporters { try await start(.exporter, e.id, e.component) }
        for p in graph.processors {
            for proc in p.chain.reversed() { try await start(.processor, proc.id, proc.component) }
        }
        for r in graph.receivers { try await start(.receiver, r.id, r.component) }
        status.set(.ready(since: Date()))
        logger.info("everything is ready; begin running and processing data", metadata: ["pipelines": "\(config.pipelines.map(\.id.description).joined(separator: ","))"])
    }

    /// Stops receivers first (no new data), then each pipeline's processors front to back (so
    /// their flushes reach the exporters), then exporters, then extensions.
    public func shutdown() async {
        status.set(.stopping)
        logger.info("shutting down")
        for r in graph.receivers { await r.component.shutdown() }
        for p in graph.processors {
            for proc in p.chain { await proc.component.shutdown() }
        }
        for e in graph.exporters { await e.component.shutdown() }
        for e in graph.extensions.reversed() { await e.component.shutdown() }
        await metrics.withLockedValue { m in defer { m = nil }; return m }?.shutdown()
        logger.info("shutdown complete")
    }

    /// Starts, waits for SIGTERM or SIGINT, shuts down.
    public func run() async throws {
        let signals = SignalWaiter([SIGTERM, SIGINT])
        try await start()
        let released = StartupPages.release()
        logger.debug("start-up pages unmapped", metadata: ["bytes": "\(released)"])
        let sig = await signals.wait()
        logger.info("received signal, stopping", metadata: ["signal": "\(sig == SIGTERM ? "SIGTERM" : "SIGINT")"])
        await shutdown()
    }
}

public struct StartError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Turns POSIX signals into an awaitable event (the default handlers are replaced so the process
/// can shut down in order instead of dying).
final class SignalWaiter {
    private let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init(_ signals: [Int32]) {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for s in signals {
            signal(s, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
            source.setEventHandler { continuation.yield(s) }
            source.resume()
            sources.append(source)
        }
        self.stream = stream
        self.sources = sources
    }

    func wait() async -> Int32 {
        for await s in stream { return s }
        return SIGTERM
    }
}
