import TraceModel

/// Why one send attempt failed, as an exporter reports it to the helper.
public enum ExportError: Error, Sendable, CustomStringConvertible {
    /// Worth trying again (network error, 429/502/503/504), at the earliest after `retryAfter`.
    /// `partial`: part of the request was delivered (the loadbalancing exporter's backends
    /// answer separately); only its `rest` is tried again.
    case retryable(String, retryAfter: Duration?, partial: PartialDelivery? = nil)
    /// Retrying cannot help (400, 401, a tenant header missing, …): the data is dropped and counted.
    case permanent(String)

    public var description: String {
        switch self {
        case .retryable(let m, let after, _): return after.map { "\(m) (retry after \($0))" } ?? m
        case .permanent(let m): return m
        }
    }
}

/// How far a send got before a retryable failure: what is left to send, and what was delivered
/// or refused for good on the way.
public struct PartialDelivery: Sendable {
    public var rest: TraceData
    public var deliveredSpans: Int
    public var rejectedSpans: Int
    public var rejectionMessage: String

    public init(rest: TraceData, deliveredSpans: Int, rejectedSpans: Int, rejectionMessage: String = "") {
        self.rest = rest
        self.deliveredSpans = deliveredSpans
        self.rejectedSpans = rejectedSpans
        self.rejectionMessage = rejectionMessage
    }
}

/// What a successful send reports back: spans the server accepted the request but rejected
/// (OTLP partial success).
public struct ExportOutcome: Sendable {
    public var rejectedSpans: Int
    public var message: String

    public static let ok = ExportOutcome(rejectedSpans: 0, message: "")

    public init(rejectedSpans: Int, message: String) {
        self.rejectedSpans = rejectedSpans
        self.message = message
    }
}

/// One sending "lane" of an exporter: each queue consumer gets its own (a connection, a
/// compressor) and is the only caller of `send`. `close` may come from any task: shutdown uses
/// it to abort a send that outlives the drain deadline.
public protocol ExportLane: AnyObject, Sendable {
    /// `headerEdits` come from the exporter's authenticator (`auth`), per request.
    func send(_ data: TraceData, headerEdits: [HeaderEdit], timeout: Duration?) async throws(ExportError) -> ExportOutcome
    func close()
}

/// The part of an exporter that actually delivers data; the helper adds queueing and retries.
public protocol ExportSender: Sendable {
    /// Called once per consumer task, inside it.
    func makeLane() throws -> any ExportLane
}

/// One queued request.
struct QueueItem: Sendable {
    var data: TraceData
    var spans: Int
    var bytes: Int
    /// The request metadata the exporter's authenticator or batch partitioning reads (only
    /// those keys, so requests that do not differ in them can be merged).
    var metadata: [String: [String]] = [:]
    /// The records that hold it on disk, for a persistent queue.
    var records: [FileQueueStore.Record] = []
    /// Set when the caller waits for the outcome (`wait_for_result`).
    var completion: CompletionBox?
}

/// Hands the final outcome of a queued request back to a caller that waits for it.
final class CompletionBox: Sendable {
    private let continuation: AsyncStream<Result<Void, ExportError>>.Continuation
    let stream: AsyncStream<Result<Void, ExportError>>

    init() {
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func finish(_ r: Result<Void, ExportError>) {
        continuation.yield(r)
        continuation.finish()
    }

    func wait() async -> Result<Void, ExportError> {
        for await r in stream { return r }
        return .failure(.permanent("shut down before the export finished"))
    }
}
