import Atomics
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import TraceModel

/// The exporter helper: wraps an `ExportSender` with a `SendingQueue` (in memory or on disk),
/// `num_consumers` sending tasks, a `RetryingSender`, optional in-queue batching, counters, and
/// a drain at shutdown. `consume` only enqueues; a full queue is a `PipelineError.refused`,
/// which receivers turn into 503 + Retry-After, so nothing answered 200 is dropped for room.
public final class QueuedExporter: Exporter {
    let config: ExporterHelperConfig
    let sender: any ExportSender
    let context: ComponentContext
    public let counters: ExporterCounters
    let authenticatorID: ComponentID?
    private let running = NIOLockedValueBox<Running?>(nil)
    private let consumers = NIOLockedValueBox<[Task<Void, Never>]>([])
    private let logs = RateLimitedLog()
    /// Fires when sending tasks must stop retrying: at shutdown for a persistent queue, at the
    /// drain deadline for a memory queue.
    private let stopRetrying = AsyncEvent()
    /// Spans a send was interrupted in (shutdown during a retry wait).
    private let interruptedSpans = ManagedAtomic(0)
    private let runningConsumers = RunningCount()
    /// Every consumer's lane, so shutdown can abort sends that outlive the drain deadline.
    private let lanes = NIOLockedValueBox<[ObjectIdentifier: any ExportLane]>([:])
    /// Batching taken from a durable pipeline's batch processor (`adoptBatching`).
    private let adoptedBatch = NIOLockedValueBox<ExporterHelperConfig.Batch?>(nil)
    /// With batching, one sending task at a time gathers a batch, so batches fill up instead of
    /// every idle task holding a small one until `flush_timeout`.
    private let gathering = AsyncTurn()

    /// What `start` set up.
    struct Running: Sendable {
        var queue: any SendingQueue
        var authenticator: (any ClientAuthenticator)?
        /// The request-metadata keys kept with each queued request: those the authenticator
        /// reads and those `sending_queue.batch.partition` splits by.
        var metadataKeys: [String]
        /// `sending_queue.batch`, or what the exporter adopted from a batch processor.
        var batch: ExporterHelperConfig.Batch?
    }

    /// `authenticator`: the exporter's `auth.authenticator`, resolved among the running
    /// extensions at start.
    public init(config: ExporterHelperConfig, sender: any ExportSender, context: ComponentContext, authenticator: ComponentID? = nil) {
        var c = config
        if !c.queue.enabled {
            // No queue: the caller waits for its export, with num_consumers sends in flight at most.
            c.queue.waitForResult = true
            c.queue.blockOnOverflow = true
            c.queue.queueSize = max(1, c.queue.numConsumers)
            c.queue.sizer = .requests
            c.queue.storage = nil
        }
        self.config = c
        self.sender = sender
        self.context = context
        self.authenticatorID = authenticator
        self.counters = context.telemetry.exporter(context.id)
    }

    private var state: Running? { running.withLockedValue { $0 } }

    public var persistentQueueStorage: ComponentID? { config.queue.storage }

    public func adoptBatching(_ batch: ExporterHelperConfig.Batch) {
        guard config.queue.batch == nil else { return }
        adoptedBatch.withLockedValue { current in
            if current == nil {
                current = batch
            } else if current != batch {
                context.logger.notice("pipelines sharing this exporter batch differently; its queue batches with the first pipeline's batch settings")
            }
        }
    }

    public func start(_ host: ComponentHost) async throws {
        let q = config.queue
        var authenticator: (any ClientAuthenticator)?
        if let id = authenticatorID {
            guard let ext = host.extensions[id] else {
                throw StartError(message: "auth.authenticator: extension \"\(id)\" is not running (define it under extensions and list it in service.extensions)")
            }
            guard let a = ext as? any ClientAuthenticator else {
                throw StartError(message: "auth.authenticator: extension \"\(id)\" is not a client authenticator (headers_setter is)")
            }
            authenticator = a
        }
        let batch = q.batch ?? adoptedBatch.withLockedValue { $0 }
        let metadataKeys = RequestMetadata.normalized((authenticator?.metadataKeys ?? []) + (batch?.partitionKeys ?? []))
        let queue: any SendingQueue
        if let storageID = q.storage {
            guard let ext = host.extensions[storageID] else {
                throw StartError(message: "sending_queue.storage: extension \"\(storageID)\" is not running (define it under extensions and list it in service.extensions)")
            }
            guard let storage = ext as? FileStorageExtension else {
                throw StartError(message: "sending_queue.storage: extension \"\(storageID)\" is not a storage extension")
            }
            let dir = try storage.directory(for: context.id, kind: .exporter)
            let store: FileQueueStore
            do {
                store = try FileQueueStore(directory: dir, fsync: storage.config.fsync)
            } catch {
                throw StartError(message: "sending_queue.storage: \(error)")
            }
            queue = PersistentQueue(store: store, capacity: q.queueSize, sizer: q.sizer, logger: context.logger, counters: counters)
        } else {
            queue = MemoryQueue(capacity: q.queueSize, sizer: q.sizer, memoryLimit: q.memoryLimitBytes)
        }
        running.withLockedValue { $0 = Running(queue: queue, authenticator: authenticator, metadataKeys: metadataKeys, batch: batch) }
        counters.setQueue(size: 0, capacity: q.queueSize)
        // Fail fast on a sender that cannot be built (bad TLS files, …).
        try sender.makeLane().close()
        let retrying = RetryingSender(retry: config.retry, timeout: config.timeout.nanoseconds > 0 ? config.timeout.duration : nil,
                                      counters: counters, logger: context.logger, logs: logs, stopRetrying: stopRetrying)
        // Counted before the tasks exist: a shutdown right after start must wait for consumers
        // that have not been scheduled yet, not find none running and count the queue as lost.
        runningConsumers.add(q.numConsumers)
        let auth = authenticator
        let tasks = (0..<q.numConsumers).map { _ in
            Task { [self] in await self.consumeLoop(queue, batch: batch, authenticator: auth, retrying: retrying) }
        }
        consumers.withLockedValue { $0 = tasks }
    }

    public func consume(_ data: consuming TraceData) async throws {
        guard let state else { throw PipelineError.refused("exporter \(context.id) is not running", retryAfter: .seconds(1)) }
        let spans = data.spanCount
        let metadata = state.metadataKeys.isEmpty ? [:] : RequestMetadata.subset(RequestMetadata.current, keys: state.metadataKeys)
        let completion = config.queue.waitForResult ? CompletionBox() : nil
        do {
            try await state.queue.enqueue(data, spans: spans, metadata: metadata, completion: completion,
                                          blockFor: config.queue.blockOnOverflow ? .seconds(5) : nil)
        } catch {
            counters.recordEnqueueFailed(spans)
            let message: String
            switch error {
            case .full: message = "\(state.queue.isPersistent ? "persistent " : "")sending queue of exporter \(context.id) is full"
            case .closed: message = "exporter \(context.id) is shutting down"
            case .storage(let m): message = "cannot store the request in the persistent queue: \(m)"
            }
            logs.log(context.logger, .warning, key: "full", "\(message); refusing data (clients get 503 and retry)",
                     metadata: ["spans": "\(spans)", "queue_size": "\(config.queue.queueSize)"])
            throw PipelineError.refused(message, retryAfter: .seconds(1))
        }
        await updateQueueSize()
        if let completion {
            switch await completion.wait() {
            case .success: return
            case .failure(let e):
                if case .retryable = e { throw PipelineError.refused("export failed: \(e)", retryAfter: .seconds(1)) }
                throw PipelineError.permanent("export failed: \(e)")
            }
        }
    }

    private func updateQueueSize() async {
        guard let state else { return }
        counters.setQueue(size: await state.queue.size)
    }

    // MARK: sending

    private func consumeLoop(_ queue: any SendingQueue, batch: ExporterHelperConfig.Batch?, authenticator: (any ClientAuthenticator)?,
                             retrying: RetryingSender) async {
        defer { runningConsumers.remove() }
        let lane: any ExportLane
        do {
            lane = try sender.makeLane()
        } catch {
            context.logger.error("cannot create a sender", metadata: ["error": "\(error)"])
            return
        }
        lanes.withLockedValue { $0[ObjectIdentifier(lane)] = lane }
        defer {
            lanes.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(lane)) }
            lane.close()
        }
        // A request taken while gathering a batch that may not join it (other metadata) starts the next one.
        var carried: QueueItem?
        while true {
            // A carried request starts its batch without waiting for the turn: the task holding
            // the turn may be waiting on an empty queue, and the carried request with it.
            let takesTurn = batch != nil && carried == nil
            if takesTurn { await gathering.acquire() }
            let first: QueueItem
            if let c = carried {
                first = c
                carried = nil
            } else if let taken = await queue.take() {
                first = taken
            } else {
                if takesTurn { gathering.release() }
                break
            }
            var item = first
            if let b = batch {
                (item, carried) = await gather(item, queue: queue, batch: b)
                if takesTurn { gathering.release() }
            }
            await updateQueueSize()
            let pieces = batch.map { item.data.split(maxSpans: $0.maxSize) } ?? [item.data]
            var result: Result<Void, ExportError> = .success(())
            var interrupted = false
            var undelivered = 0
            do throws(ExportError) {
                let edits = try authenticator?.headerEdits(for: item.metadata) ?? []
                for piece in pieces {
                    switch await retrying.send(piece, headerEdits: edits, lane: lane) {
                    case .delivered: break
                    case .failed(let e): result = .failure(e)
                    case .interrupted(let spans):
                        interrupted = true
                        undelivered += spans
                    }
                }
            } catch {
                counters.addFailed(item.spans, reason: "permanent")
                logs.log(context.logger, .error, key: "auth", "dropping data: the authenticator cannot set this request's headers",
                         metadata: ["error": "\(error)", "dropped_spans": "\(item.spans)"])
                result = .failure(error)
            }
            item.completion?.finish(interrupted ? .failure(.retryable("shut down before the export finished", retryAfter: nil)) : result)
            await queue.finished(item, interrupted: interrupted)
            if interrupted && !queue.isPersistent {
                interruptedSpans.wrappingIncrement(by: undelivered, ordering: .relaxed)
            }
        }
    }

    /// Merges queued requests until `min_size` spans or `flush_timeout`. Only requests with the
    /// same metadata merge; the first one that differs is returned to start the next batch.
    private func gather(_ first: QueueItem, queue: any SendingQueue, batch: ExporterHelperConfig.Batch) async -> (QueueItem, carried: QueueItem?) {
        var item = first
        let deadline = ContinuousClock.now + batch.flushTimeout.duration
        while item.spans < batch.minSize {
            guard let next = await queue.take(until: deadline) else { break }
            guard next.metadata == item.metadata else { return (item, next) }
            item.data.append(next.data)
            item.spans += next.spans
            item.bytes += next.bytes
            item.records += next.records
            if let c = next.completion {
                // Several waiting callers: each learns the shared outcome.
                let mine = item.completion
                let merged = CompletionBox()
                Task {
                    let r = await merged.wait()
                    mine?.finish(r)
                    c.finish(r)
                }
                item.completion = merged
            }
        }
        return (item, nil)
    }

    public func shutdown() async {
        guard let state else { return }
        let queue = state.queue
        let drain = config.queue.drainTimeout.duration
        let drainDeadline = ContinuousClock.now + drain
        if queue.isPersistent {
            stopRetrying.fire()
        } else {
            stopRetrying.fire(at: drainDeadline)
        }
        await queue.close()
        let tasks = consumers.withLockedValue { $0 }
        // Let the consumers finish what is queued (memory) or in flight (persistent) until the
        // deadline; then abort what is still sending, and never wait more than a moment longer.
        // (Waiting on a count, not on the tasks: a task stuck in a call that ignores
        // cancellation must not hold shutdown forever.)
        if !(await runningConsumers.waitForZero(until: drainDeadline + .seconds(1))) {
            for t in tasks { t.cancel() }
            for lane in lanes.withLockedValue({ Array($0.values) }) { lane.close() }
            if !(await runningConsumers.waitForZero(until: .now + .seconds(2))) {
                context.logger.error("sending tasks did not stop after the drain deadline; shutting down without them",
                                     metadata: ["tasks": "\(runningConsumers.value)"])
            }
        }
        switch await queue.leftAtShutdown() {
        case .lost(let left):
            let spans = left.reduce(0) { $0 + $1.spans } + interruptedSpans.load(ordering: .relaxed)
            for item in left { item.completion?.finish(.failure(.retryable("shut down before the export finished", retryAfter: nil))) }
            if spans > 0 {
                counters.addFailed(spans, reason: "shutdown")
                context.logger.error("shutdown left spans undelivered after the drain timeout",
                                     metadata: ["spans": "\(spans)", "drain_timeout": "\(config.queue.drainTimeout)"])
            }
        case .kept(let requests):
            if requests > 0 {
                context.logger.info("persistent queue keeps requests for the next start", metadata: ["requests": "\(requests)"])
            }
        }
        await updateQueueSize()
        // The sending tasks are gone: end the drain-deadline timer now rather than at its deadline.
        stopRetrying.fire()
    }
}
