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
/// A hand-over of sampled traces the exporters refuse (queue or disk full) is kept and offered
/// again at every tick; while one is kept, new data is refused (503 + Retry-After), so the
/// backpressure reaches clients and memory and the journal stop growing instead of spans being
/// dropped.
///
/// In a durable pipeline (persistent exporter queues) every request is also appended to a
/// journal in the queues' storage before its client is answered (`TailSamplingJournal`): a
/// crash then loses no waiting span, and the next start decides the journaled traces again
/// (after a full `decision_wait`; spans already handed on may be sent twice).
public actor TailSamplingProcessor: Processor {
    let config: TailSamplingConfig
    let next: any TraceConsumer
    let logger: Logger
    public nonisolated let counters: TailSamplingCounters

    private struct Entry {
        var buffer = TraceBuffer()
        var firstArrival: ContinuousClock.Instant
        var decision: Bool?
        /// The journal segments holding its waiting spans (durable pipelines only).
        var segments: [Int] = []
    }

    private var traces: [TraceID: Entry] = [:]
    /// Trace ids in arrival order (the ring the collector keeps), oldest first.
    private var order: [TraceID] = []
    private var orderHead = 0
    private var undecided = 0
    private var sampledCache: LRUSet
    private var notSampledCache: LRUSet
    private var ticker: Task<Void, Never>?
    /// Hand-overs the exporters refused, oldest first, offered again until taken.
    private var held: [HandOver] = []
    private let context: ComponentContext
    private var journal: TailSamplingJournal?

    public init(config: TailSamplingConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.next = next
        self.logger = context.logger
        self.context = context
        self.counters = context.telemetry.tailSampling(context.id, policies: config.policies.map(\.name))
        sampledCache = LRUSet(capacity: config.sampledCacheSize)
        notSampledCache = LRUSet(capacity: config.nonSampledCacheSize)
    }

    public func start(_ host: ComponentHost) async throws {
        if let storageID = context.pipelineStorage {
            try openJournal(storageID, host: host)
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

    /// Opens the journal in the pipeline's storage and decides again what a previous run left.
    private func openJournal(_ storageID: ComponentID, host: ComponentHost) throws {
        guard let storage = host.extensions[storageID] as? FileStorageExtension else {
            throw StartError(message: "the pipeline's storage extension \"\(storageID)\" is not running")
        }
        let journal: TailSamplingJournal
        do {
            let dir = try storage.directory(for: context.id, kind: .processor, pipeline: context.pipeline)
            let rotate = max(Duration.seconds(1), config.decisionWait.duration / 2)
            journal = try TailSamplingJournal(directory: dir, fsync: storage.config.fsync, rotateAfter: rotate)
        } catch {
            throw StartError(message: "tail-sampling journal: \(error)")
        }
        self.journal = journal
        let (segments, damaged) = journal.recover()
        for d in damaged {
            logger.error("tail-sampling journal segment is damaged; the frames before the damage are used, the rest is set aside",
                         metadata: ["file": "\(d.file)", "offset": "\(d.offset)", "bytes": "\(d.bytes)", "reason": "\(d.reason)"])
        }
        let now = ContinuousClock.now
        var spans = 0
        for segment in segments {
            for request in segment.requests {
                spans += request.spanCount
                // Every trace waits again; none of them was handed on, or it would be gone.
                _ = ingest(request, segment: segment.number, now: now)
            }
        }
        // Only now: a recovered segment not yet replayed has no references either, and must
        // not go with an older one that turned out to hold only decided traces.
        journal.deleteUnused()
        logger.info("spans waiting for a tail-sampling decision are journaled to disk (durable pipeline)",
                    metadata: ["directory": "\(journal.directory)", "recovered_spans": "\(spans)", "recovered_traces": "\(undecided)"])
        counters.tracesOnMemory.set(Int64(undecided))
    }

    public func consume(_ data: consuming TraceData) async throws {
        let now = ContinuousClock.now
        if !held.isEmpty {
            await offerHeld(now: now)
            if !held.isEmpty {
                throw PipelineError.refused("the exporters are not taking sampled traces (tail sampling holds a refused hand-over)", retryAfter: .seconds(1))
            }
        }
        var segment: Int?
        if let journal {
            do {
                segment = try journal.append(data, now: now)
            } catch {
                throw PipelineError.refused("tail sampling cannot store the request: \(error)", retryAfter: .seconds(1))
            }
        }
        let forward = ingest(data, segment: segment, now: now)
        await evictIfNeeded(now: now)
        counters.tracesOnMemory.set(Int64(undecided))
        // Spans of traces decided before are handed on now; a refusal reaches the client.
        if forward.spanCount > 0 { try await next.consume(forward.traceData) }
    }

    /// Files each trace's spans under it; returns what follows an earlier "sampled" decision.
    private func ingest(_ data: TraceData, segment: Int?, now: ContinuousClock.Instant) -> TraceBuffer {
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
                    if let forwardIt = route(id, chunk, now: now, segment: segment) {
                        if forwardIt { forward.append(chunk) }
                    }
                }
            }
        }
        return forward
    }

    /// Files a chunk under its trace; returns true/false when it follows an earlier decision
    /// (forward/drop now), nil when it waits.
    private func route(_ id: TraceID, _ chunk: TraceBuffer.Chunk, now: ContinuousClock.Instant, segment: Int?) -> Bool? {
        if var e = traces[id] {
            if let d = e.decision {
                counters.lateSpans.increment(by: Int64(chunk.spans.count))
                return d
            }
            e.buffer.append(chunk)
            note(segment, in: &e)
            traces[id] = e
            return nil
        }
        if sampledCache.contains(id) { return true }
        if notSampledCache.contains(id) { return false }
        var e = Entry(firstArrival: now)
        e.buffer.append(chunk)
        note(segment, in: &e)
        traces[id] = e
        order.append(id)
        undecided += 1
        counters.newTraces.increment()
        return nil
    }

    /// The trace has waiting spans in `segment`: the segment stays until the trace is decided.
    private func note(_ segment: Int?, in e: inout Entry) {
        guard let segment, let journal, !e.segments.contains(segment) else { return }
        e.segments.append(segment)
        journal.retain(segment)
    }

    /// Decided traces were handed on (or dropped by their decision): their segments may go.
    /// (When the exporters refused the hand-over, the segments are kept, and the next start
    /// decides those traces again.)
    private func release(_ segments: [Int]) {
        guard let journal else { return }
        for s in segments { journal.release(s) }
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
                if sampled {
                    await handOn(HandOver(spans: e.buffer, ids: journal == nil ? [] : [id], segments: e.segments), now: now)
                } else {
                    journal?.appendDecided([id], now: now)
                    release(e.segments)
                }
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
        // Sampled traces go on in hand-overs of about `handOverSpans` spans, each noted in the
        // journal once taken, so a crash during a large hand-over (a restart deciding all it
        // recovered at once) re-sends one piece, not all of it.
        var handOvers = [HandOver()]
        var droppedIDs: [TraceID] = []
        // Decisions are made without suspending, so spans arriving meanwhile see them.
        while i < order.count {
            let id = order[i]
            i += 1
            guard var e = traces[id] else { continue }
            if e.decision != nil { continue }
            // Ids are in arrival order: the first one still waiting ends the scan.
            if !all && now - e.firstArrival < wait { break }
            let sampled = decide(id, e.buffer, now: now)
            if sampled {
                if handOvers[handOvers.count - 1].spans.spanCount >= Self.handOverSpans { handOvers.append(HandOver()) }
                for c in e.buffer.chunks { handOvers[handOvers.count - 1].spans.append(c) }
                handOvers[handOvers.count - 1].segments += e.segments
                if journal != nil { handOvers[handOvers.count - 1].ids.append(id) }
            } else if journal != nil {
                droppedIDs.append(id)
                release(e.segments)
            }
            e.buffer = TraceBuffer()
            e.segments = []
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
        journal?.appendDecided(droppedIDs, now: now)
        await offerHeld(now: now)
        for h in handOvers where h.spans.spanCount > 0 { await handOn(h, now: now) }
    }

    /// Decided traces handed on together: their spans, ids and journal segments.
    private struct HandOver {
        var spans = TraceBuffer()
        var ids: [TraceID] = []
        var segments: [Int] = []
    }

    static let handOverSpans = 8192

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

    /// Hands decided traces on (after any held ones, to keep their order); what the exporters
    /// refuse for now is held. Taken: noted in the journal, its segments released.
    private func handOn(_ h: HandOver, now: ContinuousClock.Instant) async {
        guard held.isEmpty else {
            held.append(h)
            return
        }
        if await send(h.spans.traceData) == .refused {
            held.append(h)
        } else {
            done(h, now: now)
        }
    }

    /// A hand-over was taken (or refused for good: retrying cannot deliver it, and the
    /// exporters counted it): noted in the journal, its segments released.
    private func done(_ h: HandOver, now: ContinuousClock.Instant) {
        journal?.appendDecided(h.ids, now: now)
        release(h.segments)
    }

    /// Offers the held hand-overs again, oldest first, until one is refused.
    private func offerHeld(now: ContinuousClock.Instant) async {
        while let h = held.first {
            if await send(h.spans.traceData) == .refused { return }
            held.removeFirst()
            done(h, now: now)
        }
    }

    enum SendOutcome { case taken, refused, failedForGood }

    private func send(_ data: consuming TraceData) async -> SendOutcome {
        let spans = data.spanCount
        do {
            try await next.consume(consume data)
            return .taken
        } catch PipelineError.refused(let message, _) {
            if held.isEmpty {
                logger.warning("the exporters refuse sampled traces for now; holding them and refusing new data until they are taken",
                               metadata: ["error": "\(message)", "spans": "\(spans)"])
            }
            return .refused
        } catch {
            logger.error("tail sampling could not hand a sampled trace on; the exporters refused it for good",
                         metadata: ["error": "\(error)", "spans": "\(spans)"])
            return .failedForGood
        }
    }

    public func shutdown() async {
        ticker?.cancel()
        if config.dropPendingOnShutdown {
            let pending = traces.values.filter { $0.decision == nil }.count
            if pending > 0 { logger.warning("dropping traces still waiting for a decision (drop_pending_traces_on_shutdown)", metadata: ["traces": "\(pending)"]) }
            journal?.close(discardAll: true)
            return
        }
        await decideExpired(now: .now, all: true)
        // Held hand-overs get a few more tries; what is still held then stays in the journal
        // for the next start (without one, it is lost and said so).
        let deadline = ContinuousClock.now + .seconds(10)
        while !held.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(200))
            await offerHeld(now: .now)
        }
        if !held.isEmpty {
            let spans = held.reduce(0) { $0 + $1.spans.spanCount }
            if journal == nil {
                logger.error("shutdown: the exporters did not take sampled traces; spans lost", metadata: ["spans": "\(spans)"])
            } else {
                logger.warning("shutdown: the exporters did not take sampled traces; they stay in the journal for the next start", metadata: ["spans": "\(spans)"])
            }
            held = []
        }
        journal?.close(discardAll: false)
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
