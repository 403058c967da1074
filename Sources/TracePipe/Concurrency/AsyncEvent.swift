import NIOConcurrencyHelpers

/// Something that happens once (a queue drained, the last connection closed, a deadline to stop
/// retrying), awaited by any number of tasks. Shutdown waits on these instead of polling.
final class AsyncEvent: Sendable {
    private struct State {
        var fired = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        /// Waits cancelled before they registered their continuation.
        var cancelled: Set<Int> = []
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    var isFired: Bool { state.withLockedValue { $0.fired } }

    /// Wakes every waiter now and every later one at once. Firing again does nothing.
    func fire() {
        let waiters = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            guard !s.fired else { return [] }
            s.fired = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Waits until the event fires or the task is cancelled.
    func wait() async {
        let id = state.withLockedValue { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { s -> Bool in
                    if s.fired || s.cancelled.remove(id) != nil { return true }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
                if let w = s.waiters.removeValue(forKey: id) { return w }
                if !s.fired { s.cancelled.insert(id) }
                return nil
            }
            waiter?.resume()
        }
    }

    /// Waits until the event fires, `deadline` passes or the task is cancelled; true if it fired.
    @discardableResult
    func wait(until deadline: ContinuousClock.Instant) async -> Bool {
        if isFired { return true }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait() }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
        return isFired
    }

    /// Fires the event at `deadline` unless it fired before (a timer task; cancelled by nothing,
    /// it ends at the deadline at the latest).
    func fire(at deadline: ContinuousClock.Instant) {
        Task { [self] in
            await self.wait(until: deadline)
            self.fire()
        }
    }
}

/// Counts running tasks (a pool of sending tasks, open connections) and lets shutdown wait for
/// the count to reach zero, up to a deadline, without polling.
final class RunningCount: Sendable {
    private struct State {
        var running = 0
        var waiters: [AsyncEvent] = []
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    var value: Int { state.withLockedValue { $0.running } }

    func add(_ n: Int = 1) {
        state.withLockedValue { $0.running += n }
    }

    func remove(_ n: Int = 1) {
        let woken = state.withLockedValue { s -> [AsyncEvent] in
            s.running -= n
            guard s.running <= 0 else { return [] }
            defer { s.waiters = [] }
            return s.waiters
        }
        for e in woken { e.fire() }
    }

    /// True when the count reached zero before `deadline`.
    func waitForZero(until deadline: ContinuousClock.Instant) async -> Bool {
        let event = AsyncEvent()
        let zero = state.withLockedValue { s -> Bool in
            if s.running <= 0 { return true }
            s.waiters.append(event)
            return false
        }
        if zero { return true }
        return await event.wait(until: deadline)
    }
}
