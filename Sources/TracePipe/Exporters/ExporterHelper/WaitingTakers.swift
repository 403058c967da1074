/// Consumers waiting on an empty queue, in arrival order. Each has an id so a timed wait can
/// give up alone: waking every waiter at one's deadline would hand `nil` ("queue closed") to
/// sending tasks that were not waiting on a deadline, and they would stop for good.
struct WaitingTakers {
    private var waiting: [(id: Int, continuation: CheckedContinuation<QueueItem?, Never>)] = []
    private var lastID = 0

    var isEmpty: Bool { waiting.isEmpty }
    var count: Int { waiting.count }

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

/// A queue whose consumers wait in a `WaitingTakers`: the waiting itself, shared by the memory
/// and the persistent queue (each decides before waiting whether an item or "closed" is due).
protocol QueueWithTakers: Actor {
    var takers: WaitingTakers { get set }
}

extension QueueWithTakers {
    /// Waits until an offer hands this taker an item, or until close() hands it nil.
    func waitForItem() async -> QueueItem? {
        let id = takers.reserveID()
        return await withCheckedContinuation { takers.add(id, $0) }
    }

    /// As `waitForItem()`, but gives up with nil at `deadline`.
    func waitForItem(until deadline: ContinuousClock.Instant) async -> QueueItem? {
        let id = takers.reserveID()
        let timer = Task { [weak self] in
            try? await Task.sleep(until: deadline, clock: .continuous)
            guard !Task.isCancelled else { return }
            await self?.expire(id)
        }
        let item = await withCheckedContinuation { takers.add(id, $0) }
        timer.cancel()
        return item
    }

    /// A timed wait's deadline passed: only that taker gives up.
    private func expire(_ id: Int) {
        takers.remove(id)?.resume(returning: nil)
    }

    /// Closing: every waiting taker gets nil.
    func wakeTakers() {
        for c in takers.removeAll() { c.resume(returning: nil) }
    }
}
