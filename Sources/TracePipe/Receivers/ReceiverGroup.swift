/// One configured receiver that serves several protocols (the `otlp` receiver's grpc and http):
/// started together, and if one cannot start, the others are stopped again.
public final class ReceiverGroup: Receiver {
    public let parts: [any Receiver]

    public init(_ parts: [any Receiver]) {
        self.parts = parts
    }

    public func start(_ host: ComponentHost) async throws {
        var started: [any Receiver] = []
        do {
            for p in parts {
                try await p.start(host)
                started.append(p)
            }
        } catch {
            for p in started.reversed() { await p.shutdown() }
            throw error
        }
    }

    public func shutdown() async {
        for p in parts.reversed() { await p.shutdown() }
    }
}
