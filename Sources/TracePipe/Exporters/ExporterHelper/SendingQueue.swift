import TraceModel

/// Where an exporter's requests wait between `consume` and a sending task: in memory
/// (`MemoryQueue`) or on disk (`PersistentQueue`, with `sending_queue.storage`).
protocol SendingQueue: Actor {
    /// Whether what is queued survives a restart. Such a queue stops retrying at shutdown and
    /// keeps its requests for the next start; a memory queue keeps trying until the drain deadline.
    nonisolated var isPersistent: Bool { get }

    /// Queues one request. `blockFor`: how long to wait for room (nil: refuse at once).
    func enqueue(_ data: TraceData, spans: Int, metadata: [String: [String]], completion: CompletionBox?,
                 blockFor: Duration?) async throws(SendingQueueError)
    /// The next request; waits while the queue is empty; nil once closed.
    func take() async -> QueueItem?
    /// The next request if one arrives before `deadline`.
    func take(until deadline: ContinuousClock.Instant) async -> QueueItem?
    /// A taken request's send is over; `interrupted`: shutdown cut it short (a persistent queue
    /// then keeps it for the next start).
    func finished(_ item: QueueItem, interrupted: Bool)
    /// Current size in the sizer's units (`otelcol_exporter_queue_size`).
    var size: Int { get }
    /// No more requests are taken in; waiting takers are woken.
    func close()
    /// After the sending tasks stopped: what the queue still holds.
    func leftAtShutdown() -> LeftAtShutdown
}

enum SendingQueueError: Error, Equatable {
    case full
    case closed
    /// The persistent queue could not write the request (disk full, directory gone, …).
    case storage(String)
}

/// What a queue still holds at shutdown.
enum LeftAtShutdown {
    /// Taken out of a memory queue: these are lost.
    case lost([QueueItem])
    /// Still on disk, sent after the next start.
    case kept(requests: Int)
}
