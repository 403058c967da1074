import Logging
import TraceModel

/// `exporters.loadbalancing`: a trace-aware router in front of a tier of gateways. One sending
/// queue holds requests *before* routing (memory or disk, the exporter helper's); each sending
/// task routes what it takes as membership and health stand at that moment, so a backend that
/// leaves takes nothing with it. A resolver task keeps the membership current; a prober task
/// brings backends marked down back once they answer.
public final class LoadBalancingExporter: Exporter {
    let config: LoadBalancingExporterConfig
    let context: ComponentContext
    let pool: BackendPool
    let resolver: any BackendResolver
    let queued: QueuedExporter
    private let stop = AsyncEvent()
    private let resolving = TaskBox()
    private let probing = TaskBox()

    public init(config: LoadBalancingExporterConfig, context: ComponentContext) {
        self.config = config
        self.context = context
        switch config.resolver {
        case .fixed(let hostnames): resolver = StaticBackendResolver(hostnames: hostnames)
        case .dns(let settings): resolver = DNSBackendResolver(settings: settings, group: context.eventLoopGroup)
        }
        let counters = LoadBalancerCounters(id: context.id, resolver: resolver.kind, registry: context.telemetry)
        pool = BackendPool(config: config, group: context.eventLoopGroup, logger: context.logger, counters: counters)
        queued = QueuedExporter(config: config.helper, sender: RoutingSender(pool: pool), context: context,
                                authenticator: config.otlp.auth?.authenticator)
    }

    public func start(_ host: ComponentHost) async throws {
        // Settings every backend shares (TLS files, …) fail the start here, not at the first send.
        do {
            _ = try OTLPGRPCSender(config: config.otlp.withEndpoint(host: "localhost", port: BackendAddress.defaultPort),
                                   group: context.eventLoopGroup, logger: context.logger)
        } catch {
            throw StartError(message: "protocol.otlp: \(error)")
        }
        // A resolver that fails now is not fatal (a gateway tier may start after its agents):
        // the queue holds data until backends appear.
        await resolveOnce()
        try await queued.start(host)
        if let interval = resolver.interval {
            resolving.set(Task { [self] in
                while !(await stop.wait(until: .now + interval)) { await resolveOnce() }
            })
        }
        if config.failover.enabled {
            let every = config.failover.probeInterval.duration
            probing.set(Task { [self] in
                while !(await stop.wait(until: .now + every)) { await probeDownBackends() }
            })
        }
    }

    public func consume(_ data: consuming TraceData) async throws {
        try await queued.consume(data)
    }

    public var persistentQueueStorage: ComponentID? { queued.persistentQueueStorage }

    public func adoptBatching(_ batch: ExporterHelperConfig.Batch) {
        queued.adoptBatching(batch)
    }

    public func shutdown() async {
        // Sending tasks drain through the current membership first; then the background tasks end.
        await queued.shutdown()
        stop.fire()
        resolving.cancel()
        probing.cancel()
    }

    private func resolveOnce() async {
        do {
            let endpoints = try await resolver.resolve()
            pool.counters.resolution(success: true)
            if endpoints.isEmpty {
                context.logger.warning("the resolver found no backends; keeping the previous list", metadata: ["resolver": "\(resolver.kind)"])
                return
            }
            pool.update(endpoints: endpoints)
        } catch {
            pool.counters.resolution(success: false)
            // As the collector: a failed resolution keeps the last list.
            context.logger.warning("failed to resolve the backends; keeping the previous list",
                                   metadata: ["resolver": "\(resolver.kind)", "error": "\(error)"])
        }
    }

    /// An empty Export call to each backend marked down: an OK answer brings it back.
    private func probeDownBackends() async {
        for id in pool.downMembers() {
            let lane: OTLPGRPCLane
            do { lane = try OTLPGRPCLane(sender: pool.sender(id)) } catch { continue }
            defer { lane.close() }
            let timeout = min(config.helper.timeout.nanoseconds > 0 ? config.helper.timeout.duration : .seconds(5),
                              max(config.failover.probeInterval.duration, .milliseconds(100)))
            do {
                _ = try await lane.send(TraceData(), headerEdits: [], timeout: timeout)
                pool.markUp(id)
            } catch {
                // Any gRPC answer but "unavailable" means it is serving again (a probe without
                // the authenticator's headers may well be refused, or throttled).
                switch error {
                case .permanent: pool.markUp(id)
                case .retryable(_, let after, _): if after != nil { pool.markUp(id) }
                }
            }
        }
    }
}

/// The exporter helper's sender for the loadbalancing exporter: one routing lane per task.
struct RoutingSender: ExportSender {
    let pool: BackendPool

    func makeLane() throws -> any ExportLane {
        RoutingLane(pool: pool)
    }
}
