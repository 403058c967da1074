import TraceModel

/// Hands the same data to several consumers (pipelines of a shared receiver, exporters of a
/// pipeline). Each gets its own copy-on-write view, so one may modify its data freely. All are
/// tried; the first error is rethrown so the client retries rather than losing spans.
public struct FanOutConsumer: TraceConsumer {
    public let consumers: [any TraceConsumer]

    public init(_ consumers: [any TraceConsumer]) {
        self.consumers = consumers
    }

    public func consume(_ data: TraceData) async throws {
        var firstError: (any Error)?
        for c in consumers {
            do {
                try await c.consume(data)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }
}
