import Logging
import TraceModel

/// `processors.tail_sampling`: holds each trace's spans for `decision_wait` after its first
/// span, runs every policy over the whole trace, and forwards sampled traces in one request.
///
/// Memory is bounded by `num_traces`: when a new trace would exceed it, the oldest waiting trace
/// is decided early on what it has (the collector drops it instead — a trace lost for a full
/// table). Spans arriving after their trace was decided follow that decision (from the trace
/// table while it remembers the trace, then from the decision caches). At shutdown, waiting
/// traces are decided and flushed.
///
/// Waiting spans live in memory only, also in a durable pipeline (persistent exporter queues):
/// there they are acknowledged to their clients before they are on disk, and a crash loses
/// them. The processor says so once at start; docs/operations.md lists what a crash can lose.
public actor TailSamplingProcessor: Processor {
    let config: TailSamplingConfig
    let next: any TraceConsumer
    let logger: Logger
    public nonisolated let counters: TailSamplingCounters

    private struct Entry {
        var buffer = TraceBuffer()
        var firstArrival: ContinuousClock.Instant
        var decision: Bool?
    }

    private var traces: [TraceID: Entry] = [:]
    /// Trace ids in arrival order (the ring the collector keeps), oldest first.
    private var order: [TraceID] = []
    private var orderHead = 0
    private var undecided = 0
    private var sampledCache: LRUSet
    private var notSampledCache: LRUSet
    private var ticker: Task<Void, Never>?
    private let durablePipeline: Bool

    public init(config: TailSamplingConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.next = next
        self.logger = context.logger
        self.durablePipeline = context.durablePipeline
        self.counters = context.telemetry.tailSampling(context.id, policies: config.policies.map(\.name))
        sampledCache = LRUSet(capacity: config.sampledCacheSize)
        notSampledCache = LRUSet(capacity: config.nonSampledCacheSize)
    }

    public func start(_ host: ComponentHost) async throws {
        if durablePipeline {
            logger.warning("spans waiting for a tail-sampling decision are kept in memory only: a crash loses them although this pipeline's exporters have persistent queues (see docs/operations.md, what a crash can lose)",
                           metadata: ["decision_wait": "\(config.decisionWait)"])
        }
        // Decisions are checked ten times per decision_wait (at most every second, at least every 10 ms).
        let tick = Duration.nanoseconds(max(10_000_000, min(1_000_000_000, config.decisionWait.nanoseconds / 10)))
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                await self?.decideExpired(now: .now)
            }
        }
    }

    public func consume(_ data: consuming TraceData) async throws {
        let now = ContinuousClock.now
        var forward = TraceBuffer()
        for rs in data.resourceSpans {
            for ss in rs.scopeSpans {
                // Group this scope's spans by trace, keeping their order.
                var byTrace: [TraceID: [Span]] = [:]
                var seen: [TraceID] = []
                for s in ss.spans {
                    if byTrace[s.traceID] == nil { seen.append(s.traceID) }
                    byTrace[s.traceID, default: []].append(s)
                }
                for id in seen {
                    let chunk = TraceBuffer.Chunk(resource: rs.resource, scope: ss.scope, schemaURLs: (rs.schemaURL, ss.schemaURL), spans: byTrace[id]!)
                    if let forwardIt = route(id, chunk, now: now) {
                        if forwardIt { forward.append(chunk) }
                    }
                }
            }
        }
        await evictIfNeeded(now: now)
        counters.tracesOnMemory.set(Int64(undecided))
        if forward.spanCount > 0 { await send(forward.traceData) }
    }

    /// Files a chunk under its trace; returns true/false when it follows an earlier decision
    /// (forward/drop now), nil when it waits.
    private func route(_ id: TraceID, _ chunk: TraceBuffer.Chunk, now: ContinuousClock.Instant) -> Bool? {
        if var e = traces[id] {
            if let d = e.decision {
                counters.lateSpans.increment(by: Int64(chunk.spans.count))
                return d
            }
            e.buffer.append(chunk)
            traces[id] = e
            return nil
        }
        if sampledCache.contains(id) { return true }
        if notSampledCache.contains(id) { return false }
        var e = Entry(firstArrival: now)
        e.buffer.append(chunk)
        traces[id] = e
        order.append(id)
        undecided += 1
        counters.newTraces.increment()
        return nil
    }

    /// Keeps at most `num_traces` traces: the oldest are decided early and forgotten.
    private func evictIfNeeded(now: ContinuousClock.Instant) async {
        while traces.count > config.numTraces, orderHead < order.count {
            let id = order[orderHead]
            orderHead += 1
            guard let e = traces.removeValue(forKey: id) else { continue }
            if e.decision == nil {
                undecided -= 1
                counters.decidedEarly.increment()
                let sampled = decide(id, e.buffer, now: now)
                if sampled { sampledCache.insert(id) } else { notSampledCache.insert(id) }
                if sampled { await send(e.buffer.traceData) }
            }
        }
        compactOrder()
    }

    private func compactOrder() {
        if orderHead > 1024 && orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
    }

    /// Decides every trace whose decision_wait has passed (all of them with `all`).
    func decideExpired(now: ContinuousClock.Instant, all: Bool = false) async {
        let wait = config.decisionWait.duration
        var i = orderHead
        var toSend = TraceBuffer()
        // Decisions are made without suspending, so spans arriving meanwhile see them.
        while i < order.count {
            let id = order[i]
            i += 1
            guard var e = traces[id] else { continue }
            if e.decision != nil { continue }
            // Ids are in arrival order: the first one still waiting ends the scan.
            if !all && now - e.firstArrival < wait { break }
            let sampled = decide(id, e.buffer, now: now)
            if sampled { for c in e.buffer.chunks { toSend.append(c) } }
            e.buffer = TraceBuffer()
            e.decision = sampled
            traces[id] = e
            undecided -= 1
            if sampled { sampledCache.insert(id) } else { notSampledCache.insert(id) }
        }
        // Decided traces are remembered for late spans until they age out of the table.
        while orderHead < order.count, let e = traces[order[orderHead]], e.decision != nil,
              now - e.firstArrival > wait * 2 || traces.count > config.numTraces {
            traces.removeValue(forKey: order[orderHead])
            orderHead += 1
        }
        compactOrder()
        counters.tracesOnMemory.set(Int64(undecided))
        if toSend.spanCount > 0 { await send(toSend.traceData) }
    }

    /// Runs the policies over a trace and combines their decisions as the collector does.
    private func decide(_ id: TraceID, _ buffer: TraceBuffer, now: ContinuousClock.Instant) -> Bool {
        var decisions: [SamplingDecision] = []
        for (i, p) in config.policies.enumerated() {
            let d = p.policy.evaluate(id, buffer, now: now)
            decisions.append(d)
            counters.record(policy: i, sampled: d == .sampled || d == .invertSampled)
            if config.sampleOnFirstMatch && d == .sampled { break }
        }
        let sampled = SamplingDecision.combine(decisions)
        counters.record(global: sampled)
        return sampled
    }

    private func send(_ data: consuming TraceData) async {
        // Upstream was answered when the spans arrived; a refusal now can only be logged.
        let spans = data.spanCount
        do {
            try await next.consume(consume data)
        } catch {
            logger.error("tail sampling could not hand a sampled trace on", metadata: ["error": "\(error)", "spans": "\(spans)"])
        }
    }

    public func shutdown() async {
        ticker?.cancel()
        if config.dropPendingOnShutdown {
            let pending = traces.values.filter { $0.decision == nil }.count
            if pending > 0 { logger.warning("dropping traces still waiting for a decision (drop_pending_traces_on_shutdown)", metadata: ["traces": "\(pending)"]) }
            return
        }
        await decideExpired(now: .now, all: true)
    }
}

/// A bounded set remembering the most recently inserted ids (the decision caches).
struct LRUSet {
    let capacity: Int
    private var members: Set<TraceID> = []
    private var ring: [TraceID] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    func contains(_ id: TraceID) -> Bool { capacity > 0 && members.contains(id) }

    mutating func insert(_ id: TraceID) {
        guard capacity > 0, !members.contains(id) else { return }
        if ring.count < capacity {
            ring.append(id)
        } else {
            members.remove(ring[next])
            ring[next] = id
            next = (next + 1) % capacity
        }
        members.insert(id)
    }
}
