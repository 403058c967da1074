import NIOConcurrencyHelpers

/// Holds a component's background task (a flush timer, say) so shutdown can cancel it.
final class TaskBox: Sendable {
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)

    func set(_ t: Task<Void, Never>) {
        task.withLockedValue { $0 = t }
    }

    func cancel() {
        task.withLockedValue {
            $0?.cancel()
            $0 = nil
        }
    }
}
