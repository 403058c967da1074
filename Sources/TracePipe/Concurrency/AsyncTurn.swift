import DequeModule
import NIOConcurrencyHelpers

/// One task at a time, in arrival order: `acquire` waits for the turn, `release` hands it to the
/// longest waiter. For a section that spans suspension points (an actor would let other callers
/// in at every `await`).
final class AsyncTurn: Sendable {
    private struct State {
        var held = false
        var waiters = Deque<CheckedContinuation<Void, Never>>()
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { s -> Bool in
                if s.held {
                    s.waiters.append(c)
                    return false
                }
                s.held = true
                return true
            }
            if now { c.resume() }
        }
    }

    func release() {
        let next = state.withLockedValue { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiters.popFirst() { return w }  // the turn passes on, still held
            s.held = false
            return nil
        }
        next?.resume()
    }
}
