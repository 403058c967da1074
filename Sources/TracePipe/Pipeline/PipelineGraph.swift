import Logging
import NIOCore

/// The running shape of a config: one instance per receiver and exporter (shared by every
/// pipeline that names it), one processor chain per pipeline, wired receiver → processors →
/// fan-out to exporters.
public struct PipelineGraph: Sendable {
    public var extensions: [(id: ComponentID, component: any Extension)] = []
    public var exporters: [(id: ComponentID, component: any Exporter)] = []
    /// Per pipeline, its processors in order.
    public var processors: [(pipeline: ComponentID, chain: [(id: ComponentID, component: any Processor)])] = []
    public var receivers: [(id: ComponentID, component: any Receiver)] = []

    public static func build(
        _ config: ServiceConfig, group: any EventLoopGroup, status: ServiceStatus, logger: Logger,
        telemetry: TelemetryRegistry = TelemetryRegistry(), process: any ProcessStatistics = UnknownProcessStatistics()
    ) throws -> PipelineGraph {
        var graph = PipelineGraph()
        func context(_ id: ComponentID, _ kind: ComponentKind, pipeline: ComponentID? = nil) -> ComponentContext {
            var l = logger
            l[metadataKey: "otelcol.component.id"] = "\(id)"
            l[metadataKey: "otelcol.component.kind"] = "\(kind.rawValue)"
            if let pipeline { l[metadataKey: "otelcol.pipeline.id"] = "\(pipeline)" }
            return ComponentContext(id: id, kind: kind, logger: l, eventLoopGroup: group, status: status, telemetry: telemetry, process: process)
        }

        for id in config.enabledExtensions {
            let c = config.extensions[id]!
            let ext = try c.factory.create(c.config, context(id, .extension), nil) as! any Extension
            graph.extensions.append((id, ext))
        }

        var exporterByID: [ComponentID: any Exporter] = [:]
        for p in config.pipelines {
            for id in p.exporters where exporterByID[id] == nil {
                let c = config.exporters[id]!
                let e = try c.factory.create(c.config, context(id, .exporter), nil) as! any Exporter
                exporterByID[id] = e
                graph.exporters.append((id, e))
            }
        }

        var heads: [ComponentID: any TraceConsumer] = [:]
        for p in config.pipelines {
            let pipelineExporters = p.exporters.map { exporterByID[$0]! }
            let storage = Self.durability(of: p, exporters: pipelineExporters, logger: logger)
            let exporters = pipelineExporters.map { $0 as any TraceConsumer }
            var next: any TraceConsumer = exporters.count == 1 ? exporters[0] : FanOutConsumer(exporters)
            var chain: [(id: ComponentID, component: any Processor)] = []
            // Built back to front: each processor is created with the consumer after it.
            for id in p.processors.reversed() {
                let c = config.processors[id]!
                var ctx = context(id, .processor, pipeline: p.id)
                ctx.pipeline = p.id
                ctx.pipelineStorage = storage
                let proc = try c.factory.create(c.config, ctx, next) as! any Processor
                if storage != nil, let batch = (proc as? BatchProcessor)?.queueBatching {
                    for e in pipelineExporters { e.adoptBatching(batch) }
                }
                chain.insert((id, proc), at: 0)
                next = proc
            }
            graph.processors.append((p.id, chain))
            heads[p.id] = next
        }

        var receiverOrder: [ComponentID] = []
        for p in config.pipelines {
            for id in p.receivers where !receiverOrder.contains(id) { receiverOrder.append(id) }
        }
        for id in receiverOrder {
            let targets = config.pipelines.filter { $0.receivers.contains(id) }.map { heads[$0.id]! }
            let next: any TraceConsumer = targets.count == 1 ? targets[0] : FanOutConsumer(targets)
            let c = config.receivers[id]!
            let r = try c.factory.create(c.config, context(id, .receiver), next) as! any Receiver
            graph.receivers.append((id, r))
        }
        return graph
    }

    /// A pipeline is durable when every exporter it feeds stores data before acknowledging it;
    /// then the storage of its first exporter's queue, nil otherwise. Says at start what the
    /// pipeline's acknowledgements mean, and why not when one exporter keeps it from being durable.
    static func durability(of p: PipelineSpec, exporters: [any Exporter], logger: Logger) -> ComponentID? {
        let stored = zip(p.exporters, exporters).filter { $0.1.persistentQueueStorage != nil }.map(\.0)
        guard !stored.isEmpty else { return nil }
        var l = logger
        l[metadataKey: "otelcol.pipeline.id"] = "\(p.id)"
        if stored.count == exporters.count {
            l.info("durable pipeline: clients are answered once their spans are written to the persistent queues",
                   metadata: ["exporters": "\(stored.map(\.description).joined(separator: ", "))"])
            return exporters[0].persistentQueueStorage
        }
        let memory = p.exporters.filter { !stored.contains($0) }
        l.notice("pipeline is not durable: clients are answered before their spans are on disk, because these exporters have no persistent queue (sending_queue.storage)",
                  metadata: ["exporters": "\(memory.map(\.description).joined(separator: ", "))"])
        return nil
    }
}
