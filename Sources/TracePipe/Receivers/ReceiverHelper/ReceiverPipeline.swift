import Logging
import TraceModel

/// What became of a request handed to the pipeline, for the receiver to turn into its
/// protocol's answer.
enum DeliveryOutcome: Sendable {
    /// Taken (or empty: nothing to take).
    case accepted
    /// Not taken for now (queue full, memory limit): the client should retry after the delay.
    case refused(String, retryAfter: Duration)
    /// The data itself is malformed.
    case invalidData(String)
    /// Refused for good by the pipeline (already logged).
    case permanent(String)
    /// An error the pipeline does not classify (already logged); each protocol has its answer.
    case failed(String)
}

/// The step every receiver shares after decoding: hand the data on with its request metadata,
/// count it as accepted or refused (`otelcol_receiver_*_spans`), classify what went wrong.
struct ReceiverPipeline: Sendable {
    let next: any TraceConsumer
    let logger: Logger
    /// `otelcol_receiver_accepted_spans` / `refused_spans` for this receiver and transport.
    let counters: ReceiverCounters

    init(_ context: ComponentContext, transport: String, next: any TraceConsumer) {
        self.next = next
        self.logger = context.logger
        self.counters = context.telemetry.receiver(context.id, transport: transport)
    }

    func deliver(_ data: consuming TraceData, metadata: [String: [String]]) async -> DeliveryOutcome {
        let spans = data.spanCount
        guard spans > 0 else { return .accepted }
        do {
            try await next.consume(consume data, metadata: metadata)
            counters.accepted.increment(by: Int64(spans))
            return .accepted
        } catch {
            counters.refused.increment(by: Int64(spans))
            switch error as? PipelineError {
            case .refused(let message, let retryAfter):
                return .refused(message, retryAfter: retryAfter ?? .seconds(1))
            case .invalidData(let message):
                return .invalidData(message)
            case .permanent(let message):
                logger.warning("pipeline refused data permanently", metadata: ["error": "\(message)", "spans": "\(spans)"])
                return .permanent(message)
            case nil:
                logger.warning("pipeline failed", metadata: ["error": "\(error)", "spans": "\(spans)"])
                return .failed("\(error)")
            }
        }
    }

    /// Seconds for a `Retry-After` header: at least one.
    static func retryAfterSeconds(_ d: Duration) -> String {
        String(max(1, Int(d.components.seconds)))
    }
}
