import TraceModel

/// A bounded FIFO of requests. Bounded twice: by `capacity` in the configured sizer's units (the
/// collector's `queue_size`) and by `memoryLimit` bytes (tracepipe's own cap) of data queued *or
/// being sent* — an item's bytes are released only when its send finished — so a slow backend
/// turns into 503s for clients instead of unbounded memory.
actor MemoryQueue: QueueWithTakers {
    let capacity: Int
    let sizer: ExporterHelperConfig.Sizer
    let memoryLimit: Int
    /// Taken items' slots are emptied at once: a slot that kept its item until the next
    /// compaction kept up to 64 sent batches' data alive (a gigabyte with 8192-span batches).
    private var items: [QueueItem?] = []
    private var head = 0
    private var used = 0
    private var usedBytes = 0
    private var closed = false
    var takers = WaitingTakers()
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []

    init(capacity: Int, sizer: ExporterHelperConfig.Sizer, memoryLimit: Int) {
        self.capacity = capacity
        self.sizer = sizer
        self.memoryLimit = memoryLimit
    }

    var count: Int { items.count - head }
    /// Current size in sizer units.
    var size: Int { used }
    /// Bytes of the items queued or being sent: what `memoryLimit` caps.
    var bytesInUse: Int { usedBytes }
    /// Sending tasks waiting for an item.
    var waitingTakers: Int { takers.count }
    var isEmpty: Bool { count == 0 }

    func units(_ item: QueueItem) -> Int {
        switch sizer {
        case .requests: return 1
        case .items: return item.spans
        case .bytes: return item.bytes
        }
    }

    private func fits(_ item: QueueItem) -> Bool {
        // An empty queue takes any one item and an idle exporter any amount of bytes, so a
        // request larger than the limits still moves (alone).
        let unitsOK = count == 0 || used + units(item) <= capacity
        let bytesOK = usedBytes == 0 || usedBytes + item.bytes <= memoryLimit
        return unitsOK && bytesOK
    }

    /// Adds an item, waiting up to `blockFor` for room (nil: do not wait).
    func offer(_ item: QueueItem, blockFor: Duration?) async throws(SendingQueueError) {
        if closed { throw .closed }
        if !fits(item) {
            guard let wait = blockFor else { throw .full }
            let deadline = ContinuousClock.now + wait
            while !fits(item) {
                if closed { throw .closed }
                if ContinuousClock.now >= deadline { throw .full }
                await waitForSpace(until: deadline)
            }
        }
        if let t = takers.removeFirst() {
            // Handed straight to an idle sending task: not queued, but its bytes are in use
            // until `release(bytes:)`, like a taken item's. (Uncounted here, each release
            // drove the count below zero and the byte cap stopped holding.)
            usedBytes += item.bytes
            t.resume(returning: item)
            return
        }
        items.append(item)
        used += units(item)
        usedBytes += item.bytes
    }

    private func waitForSpace(until deadline: ContinuousClock.Instant) async {
        // Woken by take(); a timer wakes it at the deadline so a blocked caller never hangs.
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            guard !Task.isCancelled else { return }
            await self?.wakeSpaceWaiters()
        }
        await withCheckedContinuation { spaceWaiters.append($0) }
        timer.cancel()
    }

    private func wakeSpaceWaiters() {
        let w = spaceWaiters
        spaceWaiters = []
        for c in w { c.resume() }
    }

    /// The next item; waits while the queue is empty; nil once closed and drained.
    func take() async -> QueueItem? {
        if let item = popFirst() { return item }
        if closed { return nil }
        return await waitForItem()
    }

    /// The next item if one arrives before `deadline`.
    func take(until deadline: ContinuousClock.Instant) async -> QueueItem? {
        if let item = popFirst() { return item }
        if closed || ContinuousClock.now >= deadline { return nil }
        return await waitForItem(until: deadline)
    }

    private func popFirst() -> QueueItem? {
        guard head < items.count, let item = items[head].take() else { return nil }
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        used -= units(item)
        wakeSpaceWaiters()
        return item
    }

    /// A taken item's send finished: its memory is free again.
    func release(bytes: Int) {
        usedBytes -= bytes
        wakeSpaceWaiters()
    }

    /// No more offers; waiting takers get nil once the queue is empty.
    func close() {
        closed = true
        wakeTakers()
        wakeSpaceWaiters()
    }

    /// Removes and returns everything left (for counting what shutdown leaves behind).
    func drainRemaining() -> [QueueItem] {
        var out: [QueueItem] = []
        while let i = popFirst() {
            usedBytes -= i.bytes
            out.append(i)
        }
        return out
    }
}

extension MemoryQueue: SendingQueue {
    nonisolated var isPersistent: Bool { false }

    func enqueue(_ data: TraceData, spans: Int, metadata: [String: [String]], completion: CompletionBox?,
                 blockFor: Duration?) async throws(SendingQueueError) {
        try await offer(QueueItem(data: data, spans: spans, bytes: data.estimatedByteSize, metadata: metadata, completion: completion),
                        blockFor: blockFor)
    }

    func finished(_ item: QueueItem, interrupted: Bool) {
        release(bytes: item.bytes)
    }

    func leftAtShutdown() -> LeftAtShutdown { .lost(drainRemaining()) }
}
