import Atomics
import DequeModule
import Logging
import TraceModel

/// A piece of one trace from one request, routed to the shard that owns the trace.
struct RoutedChunk: Sendable {
    var id: TraceID
    var chunk: TraceBuffer.Chunk
    /// In-memory estimate of the spans plus `TailSamplingBudget.perTraceBytes`.
    var bytes: Int
    /// Protobuf size of the piece (only counted when `maximum_trace_size_bytes` is set).
    var protoBytes: Int
    /// It holds the trace's root span (only looked for when `decision_wait_after_root_received` is set).
    var hasRoot: Bool
}

/// One shard of `tail_sampling`: the traces whose ids hash to it, their decision timer, its
/// decision caches and its hand-overs. Shards share only the budget's atomic counters, the
/// (thread-safe) policies and the journal; each decides on its own core.
actor TailSamplingShard {
    let index: Int
    let config: TailSamplingConfig
    /// This shard's share of `num_traces`.
    let numTraces: Int
    let next: any TraceConsumer
    let logger: Logger
    let counters: TailSamplingCounters
    let budget: TailSamplingBudget
    private var journal: TailSamplingJournal?
    /// Set while a refused hand-over is held: the processor then refuses requests before
    /// splitting them (so that no shard takes a part of a request another refuses).
    nonisolated let holding = ManagedAtomic<Bool>(false)

    private struct Entry {
        var buffer = TraceBuffer()
        var firstArrival: ContinuousClock.Instant
        var decision: Bool?
        /// The journal segments holding its waiting spans (durable pipelines only).
        var segments: [Int] = []
        /// What it holds of the budget (its spans and its bookkeeping).
        var bytes = 0
        /// Protobuf bytes received so far (for `maximum_trace_size_bytes`).
        var protoBytes = 0
        var rootSeen = false
    }

    private var traces: [TraceID: Entry] = [:]
    /// Trace ids in arrival order (the ring the collector keeps), oldest first.
    private var order: [TraceID] = []
    private var orderHead = 0
    /// Every trace in `order` before this index is decided (or gone): the decision scans start
    /// here, not at `orderHead`, before which decided traces wait to age out for 2 × decision_wait.
    private var undecidedHead = 0
    private var undecided = 0
    private var waitingBytes = 0
    /// Traces whose root span arrived, in that order, with the time they are due
    /// (`decision_wait_after_root_received`).
    private var rootDue = Deque<(id: TraceID, due: ContinuousClock.Instant)>()
    private var sampledCache: LRUSet
    private var notSampledCache: LRUSet
    /// Hand-overs the exporters refused, oldest first, offered again until taken.
    private var held: [HandOver] = []
    private var ticker: Task<Void, Never>?
    /// How often decisions are checked, and when they last were: under a load that keeps every
    /// thread busy the ticker's task may wait long for its turn, so a request that finds the last
    /// check a tick old runs it itself.
    private let tick: Duration
    private var lastCheck = ContinuousClock.now

    init(index: Int, shards: Int, config: TailSamplingConfig, next: any TraceConsumer, logger: Logger,
         counters: TailSamplingCounters, budget: TailSamplingBudget) {
        self.index = index
        self.config = config
        // Limits are divided among the shards as the collector divides them (at least 1 each).
        self.numTraces = max(1, config.numTraces / shards)
        self.next = next
        self.logger = logger
        self.counters = counters
        self.budget = budget
        sampledCache = LRUSet(capacity: config.sampledCacheSize > 0 ? max(1, config.sampledCacheSize / shards) : 0)
        notSampledCache = LRUSet(capacity: config.nonSampledCacheSize > 0 ? max(1, config.nonSampledCacheSize / shards) : 0)
        // Sized for the usual load at once (growing moves every entry each time it doubles),
        // not for num_traces: a generous num_traces would make a table whose random inserts
        // touch every page of it.
        traces.reserveCapacity(min(numTraces, 1 << 16))
        // Ten times per decision_wait, and at least every 100 ms (a check with nothing due costs
        // one comparison), so a trace is decided at most ~100 ms late.
        tick = Duration.nanoseconds(max(10_000_000, min(100_000_000, config.decisionWait.nanoseconds / 10)))
    }

    func start(journal: TailSamplingJournal?) {
        self.journal = journal
        let tick = self.tick
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                await self?.decideExpired(now: .now)
            }
        }
    }

    /// Files a request's pieces of this shard's traces. Returns the spans that follow an earlier
    /// "sampled" decision, for the processor to hand on now. The processor reserved each piece's
    /// `bytes`; what is not kept waiting is given back here.
    func file(_ items: [RoutedChunk], segment: Int?, now: ContinuousClock.Instant) async throws -> TraceBuffer {
        if !held.isEmpty {
            await offerHeld(now: now)
            if !held.isEmpty {
                budget.release(items.reduce(0) { $0 + $1.bytes })
                throw PipelineError.refused("the exporters are not taking sampled traces (tail sampling holds a refused hand-over)", retryAfter: .seconds(1))
            }
        }
        var forward = TraceBuffer()
        var decided = Decided()
        var newTraces = 0
        for item in items {
            // Entries are changed in place (through their index): a copy taken out and written
            // back would copy the trace's chunk list at every append.
            if let i = traces.index(forKey: item.id) {
                budget.release(TailSamplingBudget.perTraceBytes)
                if let d = traces.values[i].decision {
                    budget.release(item.bytes - TailSamplingBudget.perTraceBytes)
                    counters.lateSpans.increment(by: Int64(item.chunk.spans.count))
                    if d { forward.append(item.chunk) }
                    continue
                }
                add(item, bytes: item.bytes - TailSamplingBudget.perTraceBytes, to: &traces.values[i], segment: segment, now: now, into: &decided)
                continue
            }
            // One lookup per cache, the sampled one first.
            let cached: Bool? = sampledCache.contains(item.id) ? true : notSampledCache.contains(item.id) ? false : nil
            if let sampled = cached {
                budget.release(item.bytes)
                counters.record(cacheRelease: sampled, spans: item.chunk.spans.count)
                if sampled { forward.append(item.chunk) }
                continue
            }
            var e = Entry(firstArrival: now)
            order.append(item.id)
            undecided += 1
            newTraces += 1
            add(item, bytes: item.bytes, to: &e, segment: segment, now: now, into: &decided)
            traces[item.id] = e
        }
        if newTraces > 0 {
            counters.newTraces.increment(by: Int64(newTraces))
            budget.tracesAdded(newTraces)
        }
        evictIfNeeded(now: now, into: &decided)
        updateGauges()
        await complete(decided, now: now)
        if now - lastCheck >= tick { await decideExpired(now: now) }
        return forward
    }

    /// Files a piece under its waiting trace.
    private func add(_ item: RoutedChunk, bytes: Int, to e: inout Entry, segment: Int?, now: ContinuousClock.Instant, into decided: inout Decided) {
        e.buffer.append(item.chunk)
        e.bytes += bytes
        waitingBytes += bytes
        e.protoBytes += item.protoBytes
        note(segment, in: &e)
        noteRoot(item, &e, now: now)
        if oversized(e) { decideOversized(item.id, &e, into: &decided) }
    }

    private func oversized(_ e: Entry) -> Bool {
        config.maximumTraceSizeBytes > 0 && e.decision == nil && e.protoBytes > config.maximumTraceSizeBytes
    }

    /// A trace over `maximum_trace_size_bytes`: dropped (the collector's way) or handed on now.
    /// Either way it is decided, so this happens (and is logged) once per trace.
    private func decideOversized(_ id: TraceID, _ e: inout Entry, into decided: inout Decided) {
        let forward = config.oversizedTrace == .forward
        logger.warning(forward ? "a trace exceeds maximum_trace_size_bytes; it is handed on now, undecided by the policies, and its later spans follow"
                               : "a trace exceeds maximum_trace_size_bytes; it is dropped, and its later spans too",
                       metadata: ["trace_id": "\(id)", "bytes": "\(e.protoBytes)", "maximum_trace_size_bytes": "\(config.maximumTraceSizeBytes)",
                                  "spans": "\(e.buffer.spanCount)"])
        if forward { counters.forwardedTooLarge.increment() } else { counters.droppedTooLarge.increment() }
        settle(id, &e, sampled: forward, into: &decided)
    }

    /// The trace has waiting spans in `segment`: the segment stays until the trace is decided.
    private func note(_ segment: Int?, in e: inout Entry) {
        guard let segment, let journal, !e.segments.contains(segment) else { return }
        e.segments.append(segment)
        journal.retain(segment)
    }

    private func noteRoot(_ item: RoutedChunk, _ e: inout Entry, now: ContinuousClock.Instant) {
        guard item.hasRoot, !e.rootSeen else { return }
        e.rootSeen = true
        rootDue.append((item.id, now + config.decisionWaitAfterRoot.duration))
    }

    /// Keeps at most this shard's share of `num_traces`: the oldest are decided early and
    /// forgotten (with `block_on_overflow` the processor refuses new traces instead, and only
    /// decided ones are forgotten here).
    private func evictIfNeeded(now: ContinuousClock.Instant, into decided: inout Decided) {
        while traces.count > numTraces, orderHead < order.count {
            let id = order[orderHead]
            if config.blockOnOverflow, traces[id]?.decision == nil, traces[id] != nil { break }
            orderHead += 1
            guard var e = traces.removeValue(forKey: id) else { continue }
            if e.decision == nil {
                counters.decidedEarly.increment()
                settle(id, &e, sampled: decide(id, e.buffer, now: now), into: &decided)
            }
        }
        compactOrder()
    }

    private func compactOrder() {
        if orderHead > 1024 && orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            undecidedHead = max(0, undecidedHead - orderHead)
            orderHead = 0
        }
    }

    /// Decides this shard's oldest waiting traces early until the budget has room again
    /// (`when_full: decide_early`). Returns whether it decided any.
    func decideOldest(now: ContinuousClock.Instant) async -> Bool {
        var decided = Decided()
        var any = false
        var i = max(undecidedHead, orderHead)
        while budget.isOver, i < order.count {
            let id = order[i]
            i += 1
            guard let t = traces.index(forKey: id), traces.values[t].decision == nil else { continue }
            counters.decidedOverBudget.increment()
            decideWaiting(id, at: t, now: now, into: &decided)
            any = true
        }
        updateGauges()
        await complete(decided, now: now)
        return any
    }

    /// Runs the policies over a waiting trace of the table and records the decision (in two
    /// steps: the trace is read for the policies, then changed in place).
    private func decideWaiting(_ id: TraceID, at t: Dictionary<TraceID, Entry>.Index, now: ContinuousClock.Instant, into decided: inout Decided) {
        let sampled = decide(id, traces.values[t].buffer, now: now)
        settle(id, &traces.values[t], sampled: sampled, into: &decided)
    }

    /// Records a decision: the trace's spans leave the budget, go into a hand-over when sampled,
    /// and its journal segments are released when not; the trace stays in the table (without
    /// spans) so that its late spans follow the decision.
    private func settle(_ id: TraceID, _ e: inout Entry, sampled: Bool, into d: inout Decided) {
        if sampled {
            if d.handOvers.isEmpty || d.handOvers[d.handOvers.count - 1].spans.spanCount >= Self.handOverSpans { d.handOvers.append(HandOver()) }
            let last = d.handOvers.count - 1
            for c in e.buffer.chunks { d.handOvers[last].spans.append(c) }
            d.handOvers[last].segments += e.segments
            if journal != nil { d.handOvers[last].ids.append(id) }
            sampledCache.insert(id)
        } else {
            if let journal {
                d.dropped.append(id)
                for s in e.segments { journal.release(s) }
            }
            notSampledCache.insert(id)
        }
        budget.release(e.bytes)
        budget.tracesAdded(-1)
        waitingBytes -= e.bytes
        undecided -= 1
        e.bytes = 0
        e.buffer = TraceBuffer()
        e.segments = []
        e.decision = sampled
    }

    /// Decides every trace whose decision_wait (or wait after its root span) has passed; all of
    /// them with `all`.
    func decideExpired(now: ContinuousClock.Instant, all: Bool = false) async {
        lastCheck = max(lastCheck, now)
        let wait = config.decisionWait.duration
        // Sampled traces go on in hand-overs of about `handOverSpans` spans, each noted in the
        // journal once taken, so a crash during a large hand-over (a restart deciding all it
        // recovered at once) re-sends one piece, not all of it.
        var decided = Decided()
        // Decisions are made without suspending, so spans arriving meanwhile see them.
        while let (id, due) = rootDue.first, all || due <= now {
            rootDue.removeFirst()
            guard let t = traces.index(forKey: id), traces.values[t].decision == nil else { continue }
            if !all { counters.decisionDelay.record(max(0, Self.seconds(now - due))) }
            decideWaiting(id, at: t, now: now, into: &decided)
        }
        var i = max(undecidedHead, orderHead)
        while i < order.count {
            let id = order[i]
            guard let t = traces.index(forKey: id), traces.values[t].decision == nil else {
                i += 1
                continue
            }
            // Ids are in arrival order: the first one still waiting ends the scan.
            let due = traces.values[t].firstArrival + wait
            if !all && now < due { break }
            if !all { counters.decisionDelay.record(max(0, Self.seconds(now - due))) }
            decideWaiting(id, at: t, now: now, into: &decided)
            i += 1
        }
        undecidedHead = i
        // Decided traces are remembered for late spans until they age out of the table.
        while orderHead < order.count, let t = traces.index(forKey: order[orderHead]), traces.values[t].decision != nil,
              now - traces.values[t].firstArrival > wait * 2 || traces.count > numTraces {
            traces.remove(at: t)
            orderHead += 1
        }
        compactOrder()
        updateGauges()
        await offerHeld(now: now)
        await complete(decided, now: now)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func updateGauges() {
        counters.setWaiting(shard: index, traces: undecided, bytes: waitingBytes, total: budget.waitingTraces)
    }

    /// Decided traces handed on together: their spans, ids and journal segments.
    private struct HandOver {
        var spans = TraceBuffer()
        var ids: [TraceID] = []
        var segments: [Int] = []
    }

    static let handOverSpans = 8192

    /// What decisions made without suspending leave to do afterwards.
    private struct Decided {
        var handOvers: [HandOver] = []
        /// Not-sampled traces, for one decided-frame in the journal.
        var dropped: [TraceID] = []
    }

    /// Notes the dropped traces in the journal and hands the sampled ones on.
    private func complete(_ d: Decided, now: ContinuousClock.Instant) async {
        journal?.appendDecided(d.dropped, now: now)
        for h in d.handOvers { await handOn(h, now: now) }
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

    /// Hands decided traces on (after any held ones, to keep their order); what the exporters
    /// refuse for now is held. Taken: noted in the journal, its segments released.
    private func handOn(_ h: HandOver, now: ContinuousClock.Instant) async {
        guard held.isEmpty else {
            held.append(h)
            return
        }
        if await send(h.spans.traceData) == .refused {
            held.append(h)
            holding.store(true, ordering: .relaxed)
        } else {
            done(h, now: now)
        }
    }

    /// A hand-over was taken (or refused for good: retrying cannot deliver it, and the
    /// exporters counted it): noted in the journal, its segments released.
    private func done(_ h: HandOver, now: ContinuousClock.Instant) {
        guard let journal else { return }
        journal.appendDecided(h.ids, now: now)
        for s in h.segments { journal.release(s) }
    }

    /// Offers the held hand-overs again, oldest first, until one is refused.
    func offerHeld(now: ContinuousClock.Instant) async {
        while let h = held.first {
            if await send(h.spans.traceData) == .refused { return }
            held.removeFirst()
            done(h, now: now)
        }
        holding.store(false, ordering: .relaxed)
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
                               metadata: ["error": "\(message)", "spans": "\(spans)", "shard": "\(index)"])
            }
            return .refused
        } catch {
            logger.error("tail sampling could not hand a sampled trace on; the exporters refused it for good",
                         metadata: ["error": "\(error)", "spans": "\(spans)"])
            return .failedForGood
        }
    }

    /// Stops the timer; decides (or, with `drop_pending_traces_on_shutdown`, drops) what waits
    /// and hands it on. Returns the spans of hand-overs the exporters still refused.
    func finish(dropPending: Bool) async -> Int {
        ticker?.cancel()
        if dropPending {
            if undecided > 0 {
                logger.warning("dropping traces still waiting for a decision (drop_pending_traces_on_shutdown)", metadata: ["traces": "\(undecided)", "shard": "\(index)"])
            }
            return 0
        }
        await decideExpired(now: .now, all: true)
        // Held hand-overs get a few more tries; what is still held then stays in the journal
        // for the next start (without one, it is lost and said so by the processor).
        let deadline = ContinuousClock.now + .seconds(10)
        while !held.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(200))
            await offerHeld(now: .now)
        }
        let spans = held.reduce(0) { $0 + $1.spans.spanCount }
        held = []
        return spans
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
        members.reserveCapacity(min(capacity, 1 << 16))
        ring.reserveCapacity(min(capacity, 1 << 16))
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
