import Atomics
import Foundation
import Logging
import NIOConcurrencyHelpers
import TraceModel

/// The exporter helper: wraps an `ExportSender` with the sending queue (in memory or on disk),
/// `num_consumers` sending tasks, retries with backoff, optional in-queue batching, counters,
/// and an orderly shutdown. `consume` only enqueues; a full queue is a `PipelineError.refused`,
/// which receivers turn into 503 + Retry-After, so nothing answered 200 is dropped for room.
public final class QueuedExporter: Exporter {
    let config: ExporterHelperConfig
    let sender: any ExportSender
    let context: ComponentContext
    public let counters: ExporterCounters
    let authenticatorID: ComponentID?
    private let queue = NIOLockedValueBox<Running?>(nil)
    private let consumers = NIOLockedValueBox<[Task<Void, Never>]>([])
    private let stopping = ManagedAtomic(false)
    private let drainDeadline = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    private let logs = RateLimitedLog()
    /// Spans a send was interrupted in (shutdown during a retry wait).
    private let interruptedSpans = ManagedAtomic(0)
    private let runningConsumers = ManagedAtomic(0)
    /// Every consumer's lane, so shutdown can abort sends that outlive the drain deadline.
    private let lanes = NIOLockedValueBox<[ObjectIdentifier: any ExportLane]>([:])

    enum Backend: Sendable {
        case memory(MemoryQueue)
        case persistent(PersistentQueue)
    }

    /// What `start` set up.
    struct Running: Sendable {
        var backend: Backend
        var authenticator: (any ClientAuthenticator)?
        /// The request-metadata keys kept with each queued request: those the authenticator
        /// reads and those `sending_queue.batch.partition` splits by.
        var metadataKeys: [String]
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
        self.counters = TelemetryRegistry.shared.exporter(context.id)
    }

    private var running: Running? { queue.withLockedValue { $0 } }
    private var backend: Backend? { running?.backend }

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
        let metadataKeys = RequestMetadata.normalized((authenticator?.metadataKeys ?? []) + (q.batch?.partitionKeys ?? []))
        let backend: Backend
        if let storageID = q.storage {
            guard let ext = host.extensions[storageID] else {
                throw StartError(message: "sending_queue.storage: extension \"\(storageID)\" is not running (define it under extensions and list it in service.extensions)")
            }
            guard let storage = ext as? FileStorageExtension else {
                throw StartError(message: "sending_queue.storage: extension \"\(storageID)\" is not a storage extension")
            }
            let dir = try storage.directory(for: context.id, kind: .exporter)
            let store = try FileQueueStore(directory: dir, fsync: storage.config.fsync)
            backend = .persistent(PersistentQueue(store: store, capacity: q.queueSize, sizer: q.sizer, logger: context.logger))
        } else {
            backend = .memory(MemoryQueue(capacity: q.queueSize, sizer: q.sizer, memoryLimit: q.memoryLimitBytes))
        }
        queue.withLockedValue { $0 = Running(backend: backend, authenticator: authenticator, metadataKeys: metadataKeys) }
        counters.queueCapacity.store(q.queueSize, ordering: .relaxed)
        // Fail fast on a sender that cannot be built (bad TLS files, …).
        try sender.makeLane().close()
        var tasks: [Task<Void, Never>] = []
        // Counted before the tasks exist: a shutdown right after start must wait for consumers
        // that have not been scheduled yet, not find none running and count the queue as lost.
        runningConsumers.wrappingIncrement(by: q.numConsumers, ordering: .relaxed)
        for _ in 0..<q.numConsumers {
            tasks.append(Task { [self] in await self.consumeLoop(backend) })
        }
        consumers.withLockedValue { $0 = tasks }
    }

    public func consume(_ data: consuming TraceData) async throws {
        guard let running else { throw PipelineError.refused("exporter \(context.id) is not running", retryAfter: .seconds(1)) }
        let spans = data.spanCount
        let metadata = running.metadataKeys.isEmpty ? [:] : RequestMetadata.subset(RequestMetadata.current, keys: running.metadataKeys)
        switch running.backend {
        case .memory(let q):
            let completion = config.queue.waitForResult ? CompletionBox() : nil
            let item = QueueItem(data: data, spans: spans, bytes: data.estimatedByteSize, metadata: metadata, completion: completion)
            do {
                try await q.offer(item, blockFor: config.queue.blockOnOverflow ? .seconds(5) : nil)
            } catch {
                counters.enqueueFailedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
                logs.log(context.logger, .warning, key: "full", "sending queue is full; refusing data (clients get 503 and retry)",
                         metadata: ["spans": "\(spans)", "queue_size": "\(config.queue.queueSize)"])
                throw PipelineError.refused("sending queue of exporter \(context.id) is full", retryAfter: .seconds(1))
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
        case .persistent(let q):
            do {
                try await q.offer(data, spans: spans, metadata: metadata)
            } catch {
                counters.enqueueFailedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
                let message: String
                switch error {
                case .full: message = "persistent sending queue of exporter \(context.id) is full"
                case .closed: message = "exporter \(context.id) is shutting down"
                case .storage(let m): message = "cannot store the request in the persistent queue: \(m)"
                }
                logs.log(context.logger, .warning, key: "full", "\(message); refusing data (clients get 503 and retry)", metadata: ["spans": "\(spans)"])
                throw PipelineError.refused(message, retryAfter: .seconds(1))
            }
            await updateQueueSize()
        }
    }

    private func updateQueueSize() async {
        guard let backend else { return }
        let size: Int
        switch backend {
        case .memory(let q): size = await q.size
        case .persistent(let q): size = await q.size
        }
        counters.queueSize.store(size, ordering: .relaxed)
    }

    // MARK: sending

    private func take(_ backend: Backend) async -> QueueItem? {
        switch backend {
        case .memory(let q): return await q.take()
        case .persistent(let q): return await q.take()
        }
    }

    private func take(_ backend: Backend, until deadline: ContinuousClock.Instant) async -> QueueItem? {
        switch backend {
        case .memory(let q): return await q.take(until: deadline)
        case .persistent(let q): return await q.take(until: deadline)
        }
    }

    private func consumeLoop(_ backend: Backend) async {
        defer { runningConsumers.wrappingDecrement(ordering: .relaxed) }
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
        let authenticator = running?.authenticator
        // A request taken while gathering a batch that may not join it (other metadata) starts the next one.
        var carried: QueueItem?
        while true {
            let first: QueueItem
            if let c = carried {
                first = c
                carried = nil
            } else if let taken = await take(backend) {
                first = taken
            } else {
                break
            }
            var item = first
            if let b = config.queue.batch {
                (item, carried) = await gather(item, backend: backend, batch: b)
            }
            await updateQueueSize()
            let pieces = config.queue.batch.map { item.data.split(maxSpans: $0.maxSize) } ?? [item.data]
            var result: Result<Void, ExportError> = .success(())
            var interrupted = false
            do throws(ExportError) {
                let edits = try authenticator?.headerEdits(for: item.metadata) ?? []
                for piece in pieces {
                    switch await sendWithRetry(piece, headerEdits: edits, lane: lane) {
                    case .delivered: break
                    case .failed(let e): result = .failure(e)
                    case .interrupted: interrupted = true
                    }
                }
            } catch {
                counters.addFailed(item.spans, reason: "permanent")
                logs.log(context.logger, .error, key: "auth", "dropping data: the authenticator cannot set this request's headers",
                         metadata: ["error": "\(error)", "dropped_spans": "\(item.spans)"])
                result = .failure(error)
            }
            item.completion?.finish(interrupted ? .failure(.retryable("shut down before the export finished", retryAfter: nil)) : result)
            switch backend {
            case .persistent(let q): if !interrupted { await q.ack(item) }
            case .memory(let q): await q.release(bytes: item.bytes)
            }
            if interrupted, case .memory = backend {
                interruptedSpans.wrappingIncrement(by: item.spans, ordering: .relaxed)
            }
        }
    }

    /// Merges queued requests until `min_size` spans or `flush_timeout`. Only requests with the
    /// same metadata merge; the first one that differs is returned to start the next batch.
    private func gather(_ first: QueueItem, backend: Backend, batch: ExporterHelperConfig.Batch) async -> (QueueItem, carried: QueueItem?) {
        var item = first
        let deadline = ContinuousClock.now + batch.flushTimeout.duration
        while item.spans < batch.minSize {
            guard let next = await take(backend, until: deadline) else { break }
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

    enum SendResult {
        case delivered
        case failed(ExportError)
        case interrupted
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func sendWithRetry(_ data: TraceData, headerEdits: [HeaderEdit], lane: any ExportLane) async -> SendResult {
        let spans = data.spanCount
        let policy = RetryPolicy(config: config.retry)
        let started = ContinuousClock.now
        var attempt = 0
        let timeout: Duration? = config.timeout.nanoseconds > 0 ? config.timeout.duration : nil
        while true {
            let attemptStarted = ContinuousClock.now
            do {
                let outcome = try await lane.send(data, headerEdits: headerEdits, timeout: timeout)
                counters.sendDuration.record(Self.seconds(since: attemptStarted))
                counters.recordSendSuccess()
                counters.sentSpans.wrappingIncrement(by: spans - outcome.rejectedSpans, ordering: .relaxed)
                if outcome.rejectedSpans > 0 || !outcome.message.isEmpty {
                    counters.addFailed(outcome.rejectedSpans, reason: "partial_success")
                    logs.log(context.logger, .warning, key: "partial", "the backend rejected part of the data (partial success)",
                             metadata: ["rejected_spans": "\(outcome.rejectedSpans)", "message": "\(outcome.message)"])
                }
                return .delivered
            } catch {
                counters.sendDuration.record(Self.seconds(since: attemptStarted))
                counters.recordSendFailure(error.description)
                switch error {
                case .permanent(let message):
                    counters.addFailed(spans, reason: "permanent")
                    logs.log(context.logger, .error, key: "permanent", "dropping data: the backend refused it and retrying cannot help",
                             metadata: ["error": "\(message)", "dropped_spans": "\(spans)"])
                    return .failed(error)
                case .retryable(let message, let retryAfter):
                    if !config.retry.enabled {
                        counters.addFailed(spans, reason: "retries_disabled")
                        logs.log(context.logger, .error, key: "noretry", "dropping data: export failed and retry_on_failure is disabled",
                                 metadata: ["error": "\(message)", "dropped_spans": "\(spans)"])
                        return .failed(error)
                    }
                    if shouldStopRetrying() { return .interrupted }
                    let delay = policy.delay(afterAttempt: attempt, retryAfter: retryAfter, random: Double.random(in: 0..<1))
                    let maxElapsed = config.retry.maxElapsedTime
                    if maxElapsed.nanoseconds > 0 && (ContinuousClock.now - started) + delay > maxElapsed.duration {
                        counters.addFailed(spans, reason: "retries_exhausted")
                        logs.log(context.logger, .error, key: "exhausted", "dropping data: no more retries left (retry_on_failure.max_elapsed_time)",
                                 metadata: ["error": "\(message)", "dropped_spans": "\(spans)", "max_elapsed_time": "\(maxElapsed)"])
                        return .failed(error)
                    }
                    logs.log(context.logger, .warning, key: "retry", "export failed; will retry",
                             metadata: ["error": "\(message)", "interval": "\(ConfigDuration.format(delay))", "spans": "\(spans)"])
                    do {
                        try await sleepUnlessStopping(delay)
                    } catch {
                        return .interrupted
                    }
                    attempt += 1
                }
            }
        }
    }

    /// During shutdown a persistent queue keeps its items for the next start; a memory queue
    /// keeps trying until the drain deadline.
    private func shouldStopRetrying() -> Bool {
        guard stopping.load(ordering: .relaxed) else { return false }
        if case .persistent = backend { return true }
        if let d = drainDeadline.withLockedValue({ $0 }), ContinuousClock.now >= d { return true }
        return false
    }

    private func sleepUnlessStopping(_ d: Duration) async throws {
        let end = ContinuousClock.now + d
        while ContinuousClock.now < end {
            if shouldStopRetrying() { throw CancellationError() }
            try await Task.sleep(for: min(.milliseconds(100), end - ContinuousClock.now))
        }
    }

    /// Waits until every consumer task has ended or `deadline` passed; true when all ended.
    /// (Polling a counter, not awaiting the tasks: a task stuck in a call that ignores
    /// cancellation must not hold shutdown forever.)
    private func waitForConsumers(until deadline: ContinuousClock.Instant) async -> Bool {
        while runningConsumers.load(ordering: .relaxed) > 0 {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    public func shutdown() async {
        guard let backend else { return }
        stopping.store(true, ordering: .relaxed)
        let drain = config.queue.drainTimeout.duration
        drainDeadline.withLockedValue { $0 = ContinuousClock.now + drain }
        switch backend {
        case .memory(let q): await q.close()
        case .persistent(let q): await q.close()
        }
        let tasks = consumers.withLockedValue { $0 }
        // Let the consumers finish what is queued (memory) or in flight (persistent) until the
        // deadline; then abort what is still sending, and never wait more than a moment longer.
        if !(await waitForConsumers(until: .now + drain + .seconds(1))) {
            for t in tasks { t.cancel() }
            for lane in lanes.withLockedValue({ Array($0.values) }) { lane.close() }
            if !(await waitForConsumers(until: .now + .seconds(2))) {
                context.logger.error("sending tasks did not stop after the drain deadline; shutting down without them",
                                     metadata: ["tasks": "\(runningConsumers.load(ordering: .relaxed))"])
            }
        }
        switch backend {
        case .memory(let q):
            let left = await q.drainRemaining()
            let spans = left.reduce(0) { $0 + $1.spans } + interruptedSpans.load(ordering: .relaxed)
            for item in left { item.completion?.finish(.failure(.retryable("shut down before the export finished", retryAfter: nil))) }
            if spans > 0 {
                counters.addFailed(spans, reason: "shutdown")
                context.logger.error("shutdown left spans undelivered after the drain timeout",
                                     metadata: ["spans": "\(spans)", "drain_timeout": "\(config.queue.drainTimeout)"])
            }
        case .persistent(let q):
            let left = await q.count
            if left > 0 {
                context.logger.info("persistent queue keeps requests for the next start", metadata: ["requests": "\(left)"])
            }
        }
        await updateQueueSize()
    }
}
