import Logging
import TraceModel

/// `processors.batch`: collects spans into batches of `send_batch_size` (or whatever arrived
/// within `timeout`) and sends them on, split at `send_batch_max_size`.
///
/// Unlike the collector's, it does not acknowledge data before the batch it joined has been
/// handed downstream: each caller waits for its batch's outcome (at most `timeout` when traffic
/// is light), so backpressure from the exporters reaches the client and no span answered 200 is
/// lost if the batch cannot be delivered.
public struct BatchProcessorConfig: Decodable, Sendable {
    public var sendBatchSize = 8192
    public var sendBatchMaxSize = 0
    public var timeout = ConfigDuration.milliseconds(200)
    public var metadataKeys: [String] = []
    public var metadataCardinalityLimit = 1000

    public init() {}

    enum Keys: String, CodingKey { case send_batch_size, send_batch_max_size, timeout, metadata_keys, metadata_cardinality_limit }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        sendBatchSize = try c.value(.send_batch_size, or: 8192)
        sendBatchMaxSize = try c.value(.send_batch_max_size, or: 0)
        timeout = try c.value(.timeout, or: timeout)
        metadataKeys = try c.value(.metadata_keys, or: [])
        metadataCardinalityLimit = try c.value(.metadata_cardinality_limit, or: 1000)
        guard sendBatchSize >= 0 else { throw decoder.invalid("send_batch_size", "must not be negative") }
        guard sendBatchMaxSize >= 0 else { throw decoder.invalid("send_batch_max_size", "must not be negative") }
        if sendBatchMaxSize > 0 && sendBatchMaxSize < sendBatchSize {
            throw decoder.invalid("send_batch_max_size", "send_batch_max_size must be greater or equal to send_batch_size")
        }
        guard timeout.nanoseconds >= 0 else { throw decoder.invalid("timeout", "must not be negative") }
        if !metadataKeys.isEmpty {
            decoder.reportUnsupported("metadata_keys", "batching per metadata value is not supported yet")
        }
    }
}

public actor BatchProcessor: Processor {
    let config: BatchProcessorConfig
    let next: any TraceConsumer
    let logger: Logger
    private var pending = TraceData()
    private var pendingSpans = 0
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    /// Identifies the current batch, so a timer only flushes the batch it was started for.
    private var generation = 0
    private var timer: Task<Void, Never>?
    private var stopped = false

    public init(config: BatchProcessorConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.next = next
        self.logger = context.logger
    }

    public func start(_ host: ComponentHost) async throws {}

    public func consume(_ data: TraceData) async throws {
        let spans = data.spanCount
        guard spans > 0 else { return }
        if stopped || config.timeout.isZero {
            try await send(data)
            return
        }
        pending.append(data)
        pendingSpans += spans
        if pendingSpans >= config.sendBatchSize {
            // This caller completed the batch: it sends it and shares the outcome.
            let (batch, batchWaiters) = takePending()
            let result = await sendResult(batch)
            for w in batchWaiters { w.resume(with: result) }
            try result.get()
            return
        }
        if pendingSpans == spans { startTimer() }
        try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    private func takePending() -> (TraceData, [CheckedContinuation<Void, any Error>]) {
        let batch = pending
        let w = waiters
        pending = TraceData()
        pendingSpans = 0
        waiters = []
        generation += 1
        timer?.cancel()
        timer = nil
        return (batch, w)
    }

    private func startTimer() {
        let g = generation
        let timeout = config.timeout.duration
        timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.timerFired(generation: g)
        }
    }

    private func timerFired(generation g: Int) async {
        guard g == generation, pendingSpans > 0 else { return }
        let (batch, batchWaiters) = takePending()
        let result = await sendResult(batch)
        for w in batchWaiters { w.resume(with: result) }
    }

    private func sendResult(_ batch: TraceData) async -> Result<Void, any Error> {
        do {
            try await send(batch)
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    /// Sends a batch, split at send_batch_max_size; every piece is tried, the first error is kept.
    private func send(_ batch: TraceData) async throws {
        var firstError: (any Error)?
        for piece in batch.split(maxSpans: config.sendBatchMaxSize) {
            do {
                try await next.consume(piece)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    /// Flushes what is pending; later data passes straight through.
    public func shutdown() async {
        stopped = true
        guard pendingSpans > 0 else { return }
        let (batch, batchWaiters) = takePending()
        let result = await sendResult(batch)
        if case .failure(let e) = result {
            logger.error("could not hand the last batch on at shutdown", metadata: ["error": "\(e)", "spans": "\(batch.spanCount)"])
        }
        for w in batchWaiters { w.resume(with: result) }
    }
}
