import Logging
import TraceModel

/// `processors.batch`: collects spans into batches of `send_batch_size` (or whatever arrived
/// within `timeout`) and hands them on, split at `send_batch_max_size`.
///
/// With `metadata_keys`, each distinct combination of those request-metadata values (e.g. one
/// per `X-Scope-OrgID` tenant) is batched on its own and its batches carry that metadata on, so
/// an exporter's `headers_setter` can send each tenant's spans with its header. Without them,
/// batches carry no request metadata, as in the collector.
///
/// Data is acknowledged as soon as it joined a batch, as in the collector — but a batch the
/// exporters refuse (their queue is full) is not dropped: it is kept and offered again, and while
/// it waits new data is refused, so the backpressure reaches clients as 503 + Retry-After and no
/// span answered 200 is lost to make room.
///
/// In a durable pipeline (every exporter has a persistent queue) a batch held here would be
/// acknowledged but lost by a crash. There the processor passes each request straight on, so
/// its client is answered once the request is on disk, and the exporters' queues batch what they
/// read with these same settings (`queueBatching`), as the collector's `sending_queue.batch`
/// does. Holding acknowledgements until a batch fills would instead add up to `timeout` to every
/// request and cap a client that sends one request at a time at `send_batch_size` per `timeout`.
public struct BatchProcessorConfig: Decodable, Sendable {
    public var sendBatchSize = 8192
    public var sendBatchMaxSize = 0
    public var timeout = ConfigDuration.milliseconds(200)
    public var metadataKeys: [String] = []
    public var metadataCardinalityLimit = 1000

    public init() {}

    enum Keys: String, CodingKey { case send_batch_size, send_batch_max_size, timeout, metadata_keys, metadata_cardinality_limit }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        sendBatchSize = try c.value(.send_batch_size, or: 8192)
        sendBatchMaxSize = try c.value(.send_batch_max_size, or: 0)
        timeout = try c.value(.timeout, or: timeout)
        metadataKeys = try c.value(.metadata_keys, or: [])
        metadataCardinalityLimit = try c.value(.metadata_cardinality_limit, or: 1000)
        guard sendBatchSize >= 0 else { throw decoder.invalid("send_batch_size", "must not be negative") }
        guard sendBatchMaxSize >= 0 else { throw decoder.invalid("send_batch_max_size", "must not be negative") }
        if sendBatchMaxSize > 0 && sendBatchMaxSize < sendBatchSize {
            throw decoder.invalid("send_batch_max_size", "send_batch_max_size must be greater or equal to send_batch_size")
        }
        guard timeout.nanoseconds >= 0 else { throw decoder.invalid("timeout", "must not be negative") }
        if let dup = RequestMetadata.caseInsensitiveDuplicate(in: metadataKeys) {
            throw decoder.invalid("metadata_keys", "duplicate entry in metadata_keys: \"\(dup)\" (case-insensitive)")
        }
        guard metadataCardinalityLimit >= 0 else { throw decoder.invalid("metadata_cardinality_limit", "must not be negative") }
    }
}

public actor BatchProcessor: Processor {
    /// The batch being collected for one metadata combination.
    struct Shard {
        var pending = TraceData()
        var spans = 0
        /// Unique per batch, so a timer only flushes the batch it was started for.
        var id: Int
        var timer: Task<Void, Never>?
    }

    /// A piece of a batch the next consumer refused, waiting to be offered again.
    struct Held {
        var metadata: [String: [String]]
        var data: TraceData
    }

    let config: BatchProcessorConfig
    let next: any TraceConsumer
    let logger: Logger
    let counters: BatchCounters
    let metadataKeys: [String]
    /// Batches being collected, by their metadata (one, keyed `[:]`, without metadata_keys).
    /// A shard exists only while it holds spans, so tenants that went quiet cost nothing.
    private var shards: [[String: [String]]: Shard] = [:]
    private var nextBatchID = 0
    private var stuck: [Held] = []
    private var retrier: Task<Void, Never>?
    private var stopped = false
    /// In a durable pipeline: requests pass straight on (see the type's comment).
    nonisolated let passesThrough: Bool
    static let retryInterval = Duration.milliseconds(200)
    static let shutdownDeadline = Duration.seconds(10)

    public init(config: BatchProcessorConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.next = next
        self.logger = context.logger
        self.counters = context.telemetry.batch(context.id)
        self.metadataKeys = RequestMetadata.normalized(config.metadataKeys)
        self.passesThrough = context.durablePipeline
    }

    /// These settings as a sending queue's batching, for the exporters of a durable pipeline;
    /// nil when this processor does not batch (`timeout: 0`).
    public nonisolated var queueBatching: ExporterHelperConfig.Batch? {
        guard !config.timeout.isZero else { return nil }
        var b = ExporterHelperConfig.Batch()
        b.flushTimeout = config.timeout
        // send_batch_size 0: a batch is whatever arrived within the timeout.
        b.minSize = config.sendBatchSize == 0 ? Int.max : config.sendBatchSize
        b.maxSize = config.sendBatchMaxSize
        b.partitionKeys = metadataKeys
        return b
    }

    public nonisolated func consume(_ data: consuming TraceData) async throws {
        if passesThrough {
            // Not through the actor: nothing here is shared.
            let metadata = metadataKeys.isEmpty ? [:] : RequestMetadata.subset(RequestMetadata.current, keys: metadataKeys)
            try await forward(data, metadata: metadata)
            return
        }
        try await collect(data)
    }

    /// Hands `data` on now, split at `send_batch_max_size`; the caller gets the downstream outcome.
    private nonisolated func forward(_ data: consuming TraceData, metadata: [String: [String]]) async throws {
        var firstError: (any Error)?
        for piece in data.split(maxSpans: config.sendBatchMaxSize) {
            // The next consumer sees the batch's metadata as the request metadata.
            do { try await next.consume(piece, metadata: metadata) } catch { if firstError == nil { firstError = error } }
        }
        if let firstError { throw firstError }
    }

    private func collect(_ data: consuming TraceData) async throws {
        let spans = data.spanCount
        guard spans > 0 else { return }
        if !stuck.isEmpty {
            await offerStuck()
            if !stuck.isEmpty {
                throw PipelineError.refused("the exporters are not taking data (batch processor holds a refused batch)", retryAfter: .seconds(1))
            }
        }
        let metadata = metadataKeys.isEmpty ? [:] : RequestMetadata.subset(RequestMetadata.current, keys: metadataKeys)
        if stopped || config.timeout.isZero {
            // No batching: the caller gets the downstream outcome directly.
            try await forward(data, metadata: metadata)
            return
        }
        if shards[metadata] == nil {
            let limit = config.metadataCardinalityLimit
            if limit > 0 && shards.count >= limit {
                throw PipelineError.permanent("too many batcher metadata-value combinations (metadata_cardinality_limit is \(limit))")
            }
            nextBatchID += 1
            shards[metadata] = Shard(id: nextBatchID)
            counters.metadataCardinality.set(Int64(shards.count))
        }
        shards[metadata]!.pending.append(data)
        shards[metadata]!.spans += spans
        let shard = shards[metadata]!
        if shard.spans >= config.sendBatchSize {
            counters.sizeTriggerSend.increment()
            await flush(metadata)
        } else if shard.spans == spans {
            shards[metadata]!.timer = timer(for: metadata, batch: shard.id)
        }
    }

    private func timer(for metadata: [String: [String]], batch id: Int) -> Task<Void, Never> {
        let timeout = config.timeout.duration
        return Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.timerFired(metadata, batch: id)
        }
    }

    private func timerFired(_ metadata: [String: [String]], batch id: Int) async {
        guard let shard = shards[metadata], shard.id == id, shard.spans > 0 else { return }
        counters.timeoutTriggerSend.increment()
        await flush(metadata)
    }

    /// Hands a shard's batch on; what the next consumer refuses is kept for another try.
    private func flush(_ metadata: [String: [String]]) async {
        guard let shard = shards.removeValue(forKey: metadata) else { return }
        counters.metadataCardinality.set(Int64(shards.count))
        shard.timer?.cancel()
        let pieces = shard.pending.split(maxSpans: config.sendBatchMaxSize)
        for piece in pieces { counters.sendSize.record(Double(piece.spanCount)) }
        stuck += await offer(pieces.map { Held(metadata: metadata, data: $0) })
        if !stuck.isEmpty { startRetrier() }
    }

    /// Offers pieces in order; returns those not taken (retryable refusals). Pieces refused for
    /// good are dropped with an error log: retrying cannot deliver them.
    private func offer(_ pieces: [Held]) async -> [Held] {
        for (i, piece) in pieces.enumerated() {
            do {
                try await next.consume(piece.data, metadata: piece.metadata)
            } catch PipelineError.refused {
                return Array(pieces[i...])
            } catch {
                logger.error("dropping a batch the exporters refused for good", metadata: ["error": "\(error)", "spans": "\(piece.data.spanCount)"])
            }
        }
        return []
    }

    private func offerStuck() async {
        guard !stuck.isEmpty else { return }
        let pieces = stuck
        stuck = []
        stuck = await offer(pieces) + stuck
    }

    private func startRetrier() {
        guard retrier == nil else { return }
        retrier = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: BatchProcessor.retryInterval)
                guard let self, await self.retryOnce() else { return }
            }
        }
    }

    /// One retry of the held batches; false once nothing is held any more.
    private func retryOnce() async -> Bool {
        await offerStuck()
        if stuck.isEmpty {
            retrier = nil
            return false
        }
        return true
    }

    /// Hands on everything held, retrying refused batches up to a deadline; later data passes
    /// straight through.
    public func shutdown() async {
        stopped = true
        retrier?.cancel()
        retrier = nil
        for metadata in Array(shards.keys) { await flush(metadata) }
        retrier?.cancel()
        retrier = nil
        let deadline = ContinuousClock.now + Self.shutdownDeadline
        while !stuck.isEmpty && ContinuousClock.now < deadline {
            await offerStuck()
            if !stuck.isEmpty { try? await Task.sleep(for: Self.retryInterval) }
        }
        if !stuck.isEmpty {
            let lost = stuck.reduce(0) { $0 + $1.data.spanCount }
            logger.error("shutdown: the exporters did not take the last batch; spans lost", metadata: ["spans": "\(lost)"])
            stuck = []
        }
    }
}
