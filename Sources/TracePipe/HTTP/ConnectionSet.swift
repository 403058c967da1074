import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a server (HTTP or gRPC), so shutdown can ask them to finish, wait
/// until they have closed or a grace period ended, and close the rest.
final class ConnectionSet: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
    }

    private let state = NIOLockedValueBox(State())
    private let open = RunningCount()

    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Tracks `c` until it closes. A connection accepted after shutdown began is closed at once.
    func add(_ c: any Channel) {
        let id = ObjectIdentifier(c)
        let late = state.withLockedValue { s -> Bool in
            s.channels[id] = c
            return s.shuttingDown
        }
        open.add()
        c.closeFuture.whenComplete { [self] _ in
            _ = state.withLockedValue { $0.channels.removeValue(forKey: id) }
            open.remove()
        }
        if late { c.close(promise: nil) }
    }

    /// Asks every connection to finish (`announce`: the server's way of saying so), waits until
    /// all have closed or `grace` passed, then closes what is left.
    func drain(grace: Duration, announce: (any Channel) -> Void) async {
        let all = state.withLockedValue { s -> [any Channel] in
            s.shuttingDown = true
            return Array(s.channels.values)
        }
        for c in all { announce(c) }
        if await open.waitForZero(until: .now + grace) { return }
        for c in state.withLockedValue({ Array($0.channels.values) }) { try? await c.close() }
    }
}

