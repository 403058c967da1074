import Logging
import NIOConcurrencyHelpers
import TraceModel

/// `processors.tail_sampling`: holds each trace's spans for `decision_wait` after its first
/// span (or `decision_wait_after_root_received` after its root span, if sooner), runs every
/// policy over the whole trace, and forwards sampled traces.
///
/// Traces are spread over `num_shards` shards by trace id (`TailSamplingShard`); each shard
/// keeps its own table, timer and caches and decides on its own core. This object splits each
/// request by shard outside any lock: the shards share only atomic counters, the (thread-safe)
/// policies and, in a durable pipeline, the journal. A trace's decision depends on its spans
/// alone (and on the rate limits, shared by all shards), so any shard count decides the same.
///
/// Memory is bounded twice: `num_traces` (divided among the shards; when a shard's share is
/// full its oldest trace is decided early — the collector drops it instead) and
/// `max_waiting_mib`, the bytes spans waiting for a decision may take: a request that does not
/// fit is refused with 503 / UNAVAILABLE (`when_full: refuse`) or makes room by deciding the
/// oldest traces early (`decide_early`). A trace over `maximum_trace_size_bytes` is decided at
/// once: dropped (as the collector does) or handed on (`oversized_trace: forward`).
///
/// Spans arriving after their trace was decided follow that decision (from the trace table while
/// it remembers the trace, then from the decision caches). A hand-over of sampled traces the
/// exporters refuse is held and offered again at every tick; meanwhile new data is refused.
///
/// In a durable pipeline (persistent exporter queues) every request is also appended to a
/// journal in the queues' storage before its client is answered (`TailSamplingJournal`): a
/// crash then loses no waiting span, and the next start decides the journaled traces again
/// (after a full `decision_wait`; spans already handed on may be sent twice).
public final class TailSamplingProcessor: Processor {
    let config: TailSamplingConfig
    let next: any TraceConsumer
    let logger: Logger
    public let counters: TailSamplingCounters
    let budget: TailSamplingBudget
    let shards: [TailSamplingShard]
    private let context: ComponentContext
    private let journalBox = NIOLockedValueBox<TailSamplingJournal?>(nil)

    public init(config: TailSamplingConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.next = next
        self.logger = context.logger
        self.context = context
        let counters = context.telemetry.tailSampling(context.id, policies: config.policies.map(\.name), shards: config.numShards)
        let budget = TailSamplingBudget(limitBytes: config.maxWaitingBytes ?? Self.defaultWaitingBytes(context.process))
        counters.budgetBytes.set(Int64(budget.limitBytes))
        shards = (0..<config.numShards).map {
            TailSamplingShard(index: $0, shards: config.numShards, config: config, next: next, logger: context.logger,
                              counters: counters, budget: budget)
        }
        self.counters = counters
        self.budget = budget
    }

    /// Half the process's memory limit (its cgroup's, else the machine's): the other half is
    /// for the queues, the requests in flight and the rest of the process.
    static func defaultWaitingBytes(_ process: any ProcessStatistics) -> Int {
        let limit = process.memoryLimitBytes()
        return limit > 0 ? Int(min(limit / 2, UInt64(Int.max))) : TailSamplingConfig.fallbackWaitingBytes
    }

    private var journal: TailSamplingJournal? { journalBox.withLockedValue { $0 } }

    public func start(_ host: ComponentHost) async throws {
        if let storageID = context.pipelineStorage {
            try await openJournal(storageID, host: host)
        } else {
            for s in shards { await s.start(journal: nil) }
        }
        logger.info("tail sampling started", metadata: [
            "shards": "\(shards.count)", "max_waiting_mib": "\(budget.limitBytes >> 20)", "when_full": "\(config.whenFull.rawValue)",
            "num_traces": "\(config.numTraces)",
        ])
    }

    /// Opens the journal in the pipeline's storage and decides again what a previous run left.
    private func openJournal(_ storageID: ComponentID, host: ComponentHost) async throws {
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
        journalBox.withLockedValue { $0 = journal }
        for s in shards { await s.start(journal: journal) }
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
                // Every trace waits again (none of them was handed on, or it would be gone),
                // whatever the budget: these were acknowledged.
                var request = request
                let (parts, bytes) = route(&request)
                budget.add(bytes)
                for (i, part) in parts.enumerated() where !part.isEmpty {
                    _ = try? await shards[i].file(part, segment: segment.number, now: now)
                }
            }
        }
        // Only now: a recovered segment not yet replayed has no references either, and must
        // not go with an older one that turned out to hold only decided traces.
        journal.deleteUnused()
        logger.info("spans waiting for a tail-sampling decision are journaled to disk (durable pipeline)",
                    metadata: ["directory": "\(journal.directory)", "recovered_spans": "\(spans)", "recovered_traces": "\(budget.waitingTraces)"])
    }

    public func consume(_ data: consuming TraceData) async throws {
        let now = ContinuousClock.now
        // A shard holding a refused hand-over refuses; asked first, so that no shard takes a
        // part of a request that another then refuses.
        for s in shards where s.holding.load(ordering: .relaxed) {
            await s.offerHeld(now: now)
            if s.holding.load(ordering: .relaxed) {
                throw PipelineError.refused("the exporters are not taking sampled traces (tail sampling holds a refused hand-over)", retryAfter: .seconds(1))
            }
        }
        let spanCount = data.spanCount
        if config.blockOnOverflow && budget.waitingTraces >= config.numTraces {
            counters.refusedOverNumTraces.increment(by: Int64(spanCount))
            throw PipelineError.refused("tail sampling holds num_traces (\(config.numTraces)) traces waiting for a decision (block_on_overflow)", retryAfter: .seconds(1))
        }
        // The journal gets the request as it came (encoded before its spans are moved on).
        let journal = self.journal
        let encoded = journal.map { _ in OTLPProtobufEncoder.encode(data) }
        var data = data
        let (parts, bytes) = route(&data)
        try await admit(bytes, spans: spanCount, now: now)
        var segment: Int?
        if let journal, let encoded {
            do {
                segment = try journal.append(encoded: encoded, now: now)
            } catch {
                budget.release(bytes)
                throw PipelineError.refused("tail sampling cannot store the request: \(error)", retryAfter: .seconds(1))
            }
        }
        // The journal's reference for this request is given back once every shard took its part.
        defer { if let segment { journal?.release(segment) } }
        var forward = TraceBuffer()
        for (i, part) in parts.enumerated() where !part.isEmpty {
            do {
                let late = try await shards[i].file(part, segment: segment, now: now)
                for c in late.chunks { forward.append(c) }
            } catch {
                // The shard gave back its part's bytes; the parts not offered yet give back theirs.
                budget.release(parts[(i + 1)...].reduce(0) { $0 + $1.reduce(0) { $0 + $1.bytes } })
                throw error
            }
        }
        // Spans of traces decided before are handed on now; a refusal reaches the client.
        if forward.spanCount > 0 { try await next.consume(forward.traceData) }
    }

    /// Takes `bytes` of the budget for a request, or refuses it (or, with `decide_early`, makes
    /// room first by deciding the oldest waiting traces, shard by shard).
    private func admit(_ bytes: Int, spans: Int, now: ContinuousClock.Instant) async throws {
        if budget.reserve(bytes) { return }
        if config.whenFull == .decide_early {
            budget.add(bytes)
            for s in shards where budget.isOver {
                _ = await s.decideOldest(now: now)
            }
            if !budget.isOver { return }
            budget.release(bytes)
        }
        counters.refusedOverBudget.increment(by: Int64(spans))
        throw PipelineError.refused(
            "tail sampling is full: spans waiting for a decision take \(budget.waitingBytes >> 20) MiB of max_waiting_mib \(budget.limitBytes >> 20)",
            retryAfter: .seconds(1))
    }

    /// Splits a request into each shard's pieces of traces (keeping the spans' order within a
    /// trace) and sizes them; returns the pieces per shard and their bytes in all. The spans are
    /// moved out of `data` (which is left with empty span lists), not copied.
    func route(_ data: inout TraceData) -> (parts: [[RoutedChunk]], bytes: Int) {
        var parts = Array(repeating: [RoutedChunk](), count: shards.count)
        var bytes = 0
        let measureProto = config.maximumTraceSizeBytes > 0
        let findRoot = config.decisionWaitAfterRoot.nanoseconds > 0
        for r in data.resourceSpans.indices {
            let resource = data.resourceSpans[r].resource, resourceSchema = data.resourceSpans[r].schemaURL
            for s in data.resourceSpans[r].scopeSpans.indices {
                let scope = data.resourceSpans[r].scopeSpans[s].scope, scopeSchema = data.resourceSpans[r].scopeSpans[s].schemaURL
                var spans: [Span] = []
                swap(&spans, &data.resourceSpans[r].scopeSpans[s].spans)
                for (id, group) in spans.groupedByTrace() {
                    let size = 64 + TraceData.estimatedByteSize(of: group) + TailSamplingBudget.perTraceBytes
                    bytes += size
                    let proto = measureProto
                        ? OTLPProtobufSize.resourceSpans(resource, schemaURL: resourceSchema, scope: scope, scopeSchemaURL: scopeSchema, spans: group) : 0
                    let hasRoot = findRoot && group.contains { $0.parentSpanID.isZero }
                    parts[shard(of: id)].append(RoutedChunk(
                        id: id, chunk: TraceBuffer.Chunk(resource: resource, scope: scope, schemaURLs: (resourceSchema, scopeSchema), spans: group),
                        bytes: size, protoBytes: proto, hasRoot: hasRoot))
                }
            }
        }
        return (parts, bytes)
    }

    /// The shard owning a trace: both halves of the id mixed (splitmix64's finalizer), as the
    /// collector does, so ids that are not random in every byte still spread evenly.
    func shard(of id: TraceID) -> Int {
        guard shards.count > 1 else { return 0 }
        var h = id.high ^ id.low
        h ^= h >> 30
        h &*= 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27
        h &*= 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return Int(h % UInt64(shards.count))
    }

    /// Decides every trace whose wait has passed, in every shard (all of them with `all`).
    func decideExpired(now: ContinuousClock.Instant, all: Bool = false) async {
        for s in shards { await s.decideExpired(now: now, all: all) }
    }

    public func shutdown() async {
        let drop = config.dropPendingOnShutdown
        // The shards finish side by side: each may wait for its exporters to take what it holds.
        let stillHeld = await withTaskGroup(of: Int.self) { group in
            for s in shards { group.addTask { await s.finish(dropPending: drop) } }
            return await group.reduce(0, +)
        }
        if stillHeld > 0 {
            if journal == nil {
                logger.error("shutdown: the exporters did not take sampled traces; spans lost", metadata: ["spans": "\(stillHeld)"])
            } else {
                logger.warning("shutdown: the exporters did not take sampled traces; they stay in the journal for the next start", metadata: ["spans": "\(stillHeld)"])
            }
        }
        journal?.close(discardAll: drop)
    }
}
