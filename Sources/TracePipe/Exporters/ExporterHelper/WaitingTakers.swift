/// Consumers waiting on an empty queue, in arrival order. Each has an id so a timed wait can
/// give up alone: waking every waiter at one's deadline would hand `nil` ("queue closed") to
/// sending tasks that were not waiting on a deadline, and they would stop for good.
struct WaitingTakers {
    private var waiting: [(id: Int, continuation: CheckedContinuation<QueueItem?, Never>)] = []
    private var lastID = 0

    var isEmpty: Bool { waiting.isEmpty }

    mutating func reserveID() -> Int {
        lastID += 1
        return lastID
    }

    mutating func add(_ id: Int, _ continuation: CheckedContinuation<QueueItem?, Never>) {
        waiting.append((id, continuation))
    }

    /// The longest-waiting taker, removed.
    mutating func removeFirst() -> CheckedContinuation<QueueItem?, Never>? {
        waiting.isEmpty ? nil : waiting.removeFirst().continuation
    }

    /// The taker with this id, if it still waits.
    mutating func remove(_ id: Int) -> CheckedContinuation<QueueItem?, Never>? {
        guard let i = waiting.firstIndex(where: { $0.id == id }) else { return nil }
        return waiting.remove(at: i).continuation
    }

    mutating func removeAll() -> [CheckedContinuation<QueueItem?, Never>] {
        defer { waiting = [] }
        return waiting.map(\.continuation)
    }
}
