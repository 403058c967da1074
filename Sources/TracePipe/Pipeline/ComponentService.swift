import NIOConcurrencyHelpers
import ServiceLifecycle

/// Opens once the component before it in start order has started (or could not).
final class StartGate: Sendable {
    private let opened = AsyncEvent()
    private let ok = NIOLockedValueBox(false)

    func open(started: Bool) {
        ok.withLockedValue { $0 = started }
        opened.fire()
    }

    /// True when the component before started; false when it failed or shutdown came first.
    func wait() async -> Bool {
        await opened.wait()
        return ok.withLockedValue { $0 }
    }
}

/// One component as a service of the group: waits for its predecessor to start, starts,
/// opens its own gate, then holds until graceful shutdown reaches it and shuts the component
/// down. The group reaches services in reverse order and waits for each, which gives the
/// ordered stop.
final class ComponentService: Service, Sendable {
    let description: String
    let component: any Component
    let host: ComponentHost
    let after: StartGate?
    let gate: StartGate

    init(description: String, component: any Component, host: ComponentHost, after: StartGate?, gate: StartGate) {
        self.description = description
        self.component = component
        self.host = host
        self.after = after
        self.gate = gate
    }

    func run() async throws {
        // Shutdown (a signal, or an earlier component's failure) ends the wait for the predecessor.
        let predecessorStarted = await cancelWhenGracefulShutdown { [after] in await after?.wait() ?? true }
        guard predecessorStarted, !Task.isShuttingDownGracefully, !Task.isCancelled else {
            gate.open(started: false)
            // Not started; still returns only when the group's shutdown reaches it, because the
            // group takes a service that ends out of turn for a crash and cancels everything.
            try? await gracefulShutdown()
            return
        }
        do {
            try await component.start(host)
        } catch {
            gate.open(started: false)
            // The group shuts down what started and its run throws this.
            throw StartError(message: "cannot start \(description): \(error)")
        }
        gate.open(started: true)
        // Held until the group's graceful shutdown reaches this service (or it is cancelled).
        try? await gracefulShutdown()
        await component.shutdown()
    }
}
