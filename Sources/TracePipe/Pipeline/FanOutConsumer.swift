import TraceModel

/// Hands the same data to several consumers (pipelines of a shared receiver, exporters of a
/// pipeline). Each gets its own copy-on-write view, so one may modify its data freely. All are
/// tried; the first error is rethrown so the client retries rather than losing spans.
public struct FanOutConsumer: TraceConsumer {
    public let consumers: [any TraceConsumer]

    public init(_ consumers: [any TraceConsumer]) {
        self.consumers = consumers
    }

    public func consume(_ data: consuming TraceData) async throws {
        guard let last = consumers.last else { return }
        var firstError: (any Error)?
        // The others share the data (copy on write); the last consumer gets it itself.
        for c in consumers.dropLast() {
            do { try await c.consume(copy data) } catch { if firstError == nil { firstError = error } }
        }
        do { try await last.consume(consume data) } catch { if firstError == nil { firstError = error } }
        if let firstError { throw firstError }
    }
}
