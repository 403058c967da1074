import Logging
import TraceModel

/// A queue whose items live on disk (see `FileQueueStore`): an item is acknowledged to the
/// caller only once it is written, stays on disk while it is being sent, and is deleted only
/// when the send finished (delivered or permanently refused). What a crash interrupts is sent
/// again after the restart: at least once, never lost.
actor PersistentQueue: QueueWithTakers {
    let store: FileQueueStore
    let capacity: Int
    let sizer: ExporterHelperConfig.Sizer
    let logger: Logger
    private var pending: [FileQueueStore.Record] = []
    private var head = 0
    private var inFlight = 0
    private var nextSequence: UInt64
    private var closed = false
    /// What is queued (not yet taken), in the sizer's units.
    private var queuedUnits = 0
    /// Room held by writes in progress, and how many there are.
    private var reservedUnits = 0
    private var writing = 0
    var takers = WaitingTakers()

    init(store: FileQueueStore, capacity: Int, sizer: ExporterHelperConfig.Sizer, logger: Logger, counters: ExporterCounters? = nil) {
        self.store = store
        self.capacity = capacity
        self.sizer = sizer
        self.logger = logger
        let (records, removed, damaged) = store.scan()
        for name in removed {
            logger.warning("removed an incomplete queue record left by a crash during a write", metadata: ["file": "\(name)"])
        }
        for d in damaged {
            logger.error(d.recordKept ? "persistent queue record had damaged bytes after it; the record is kept, the bytes are set aside"
                                      : "persistent queue record is damaged; set aside as .corrupt",
                         metadata: ["file": "\(d.file)", "offset": "\(d.offset)", "bytes": "\(d.bytes)", "reason": "\(d.reason)"])
            counters?.recordDamaged(records: d.recordKept ? 0 : 1, bytes: d.bytes)
        }
        pending = records
        nextSequence = (records.last?.sequence ?? 0) + 1
        queuedUnits = records.reduce(0) { $0 + Self.units($1, sizer) }
        if !records.isEmpty {
            logger.info("persistent queue has requests from a previous run; sending them",
                        metadata: ["requests": "\(records.count)", "spans": "\(records.reduce(0) { $0 + $1.spans })", "directory": "\(store.directory)"])
        }
    }

    var count: Int { pending.count - head }

    var size: Int { queuedUnits }

    private func units(_ r: FileQueueStore.Record) -> Int { Self.units(r, sizer) }

    private static func units(_ r: FileQueueStore.Record, _ sizer: ExporterHelperConfig.Sizer) -> Int {
        switch sizer {
        case .requests: return 1
        case .items: return r.spans
        case .bytes: return r.bytes
        }
    }

    /// Encodes and writes a request, then queues it. The encoding and the file write happen
    /// outside the actor, so concurrent requests are written in parallel and the queue's
    /// consumers are never held up by a write; the actor only reserves room (and the record's
    /// sequence number) before and adds the record after.
    nonisolated func offer(_ data: TraceData, spans: Int, metadata: [String: [String]]) async throws(SendingQueueError) {
        let prepared = FileQueueStore.prepare(payload: OTLPProtobufEncoder.encode(data), metadata: metadata)
        let newUnits: Int
        switch sizer {
        case .requests: newUnits = 1
        case .items: newUnits = spans
        case .bytes: newUnits = prepared.size
        }
        let sequence = try await reserve(newUnits)
        let record: FileQueueStore.Record
        do {
            record = try store.write(sequence: sequence, spans: spans, prepared)
        } catch {
            await unreserve(newUnits)
            throw .storage("\(error)")
        }
        await add(record, reserved: newUnits)
    }

    /// Room for `units` more, held until the write ends; the record's sequence number.
    private func reserve(_ units: Int) throws(SendingQueueError) -> UInt64 {
        if closed { throw .closed }
        if count + writing > 0 && queuedUnits + reservedUnits + units > capacity { throw .full }
        reservedUnits += units
        writing += 1
        defer { nextSequence += 1 }
        return nextSequence
    }

    private func unreserve(_ units: Int) {
        reservedUnits -= units
        writing -= 1
    }

    /// A written record joins the queue (also when the queue closed meanwhile: it is on disk
    /// and its caller is told so, so the next start sends it).
    private func add(_ record: FileQueueStore.Record, reserved: Int) {
        unreserve(reserved)
        pending.append(record)
        queuedUnits += units(record)
        if !closed, !takers.isEmpty, let item = popFirst() {
            takers.removeFirst()?.resume(returning: item)
        }
    }

    /// The next item; nil once closed (what is still pending stays on disk for the next start).
    func take() async -> QueueItem? {
        if closed { return nil }
        if let item = popFirst() { return item }
        return await waitForItem()
    }

    func take(until deadline: ContinuousClock.Instant) async -> QueueItem? {
        if closed { return nil }
        if let item = popFirst() { return item }
        if ContinuousClock.now >= deadline { return nil }
        return await waitForItem(until: deadline)
    }

    /// Reads the next good record; bad ones are quarantined and reported, never block the queue.
    private func popFirst() -> QueueItem? {
        while head < pending.count {
            let r = pending[head]
            head += 1
            queuedUnits -= units(r)
            if head > 64 && head * 2 > pending.count {
                pending.removeFirst(head)
                head = 0
            }
            do {
                let (payload, metadata) = try store.read(r)
                let data = try OTLPProtobufDecoder.decode(payload)
                inFlight += 1
                return QueueItem(data: data, spans: r.spans, bytes: r.bytes, metadata: metadata, records: [r])
            } catch {
                logger.error("skipping a corrupted persistent queue record (kept as .corrupt)",
                             metadata: ["error": "\(error)", "spans": "\(r.spans)"])
                store.quarantine(r)
            }
        }
        return nil
    }

    /// The send of these records finished (delivered, or refused for good): remove them.
    func ack(_ item: QueueItem) {
        for r in item.records {
            store.delete(r)
            inFlight -= 1
        }
    }

    func close() {
        closed = true
        wakeTakers()
    }

    /// After the sending tasks stopped: the directory is free for the next process.
    func releaseDirectory() {
        store.lock.release()
    }
}

extension PersistentQueue: SendingQueue {
    nonisolated var isPersistent: Bool { true }

    /// Written before it returns: the caller's acknowledgement means "on disk". It never waits
    /// for room (`blockFor` is for memory queues).
    nonisolated func enqueue(_ data: TraceData, spans: Int, metadata: [String: [String]], completion: CompletionBox?,
                             blockFor: Duration?) async throws(SendingQueueError) {
        try await offer(data, spans: spans, metadata: metadata)
    }

    func finished(_ item: QueueItem, interrupted: Bool) {
        if !interrupted { ack(item) }
    }

    func leftAtShutdown() -> LeftAtShutdown {
        releaseDirectory()
        return .kept(requests: count)
    }
}
