import Logging
import TraceModel

/// `processors.batch`: collects spans into batches of `send_batch_size` (or whatever arrived
/// within `timeout`) and hands them on, split at `send_batch_max_size`.
///
/// Data is acknowledged as soon as it joined a batch, as in the collector — but a batch the
/// exporters refuse (their queue is full) is not dropped: it is kept and offered again, and while
/// it waits new data is refused, so the backpressure reaches clients as 503 + Retry-After and no
/// span answered 200 is lost to make room.
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
    let counters: BatchCounters
    private var pending = TraceData()
    private var pendingSpans = 0
    /// Pieces of a batch the next consumer refused, waiting to be offered again.
    private var stuck: [TraceData] = []
    /// Identifies the current batch, so a timer only flushes the batch it was started for.
    private var generation = 0
    private var timer: Task<Void, Never>?
    private var retrier: Task<Void, Never>?
    private var stopped = false
    static let retryInterval = Duration.milliseconds(200)
    static let shutdownDeadline = Duration.seconds(10)

    public init(config: BatchProcessorConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.next = next
        self.logger = context.logger
        self.counters = TelemetryRegistry.shared.batch(context.id)
    }

    public func start(_ host: ComponentHost) async throws {}

    public func consume(_ data: TraceData) async throws {
        let spans = data.spanCount
        guard spans > 0 else { return }
        if !stuck.isEmpty {
            await offerStuck()
            if !stuck.isEmpty {
                throw PipelineError.refused("the exporters are not taking data (batch processor holds a refused batch)", retryAfter: .seconds(1))
            }
        }
        if stopped || config.timeout.isZero {
            // No batching: the caller gets the downstream outcome directly.
            var firstError: (any Error)?
            for piece in data.split(maxSpans: config.sendBatchMaxSize) {
                do { try await next.consume(piece) } catch { if firstError == nil { firstError = error } }
            }
            if let firstError { throw firstError }
            return
        }
        pending.append(data)
        pendingSpans += spans
        if pendingSpans >= config.sendBatchSize {
            counters.sizeTriggerSend.wrappingIncrement(ordering: .relaxed)
            await flushPending()
        } else if pendingSpans == spans {
            startTimer()
        }
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
        counters.timeoutTriggerSend.wrappingIncrement(ordering: .relaxed)
        await flushPending()
    }

    /// Hands the pending batch on; what the next consumer refuses is kept for another try.
    private func flushPending() async {
        let batch = pending
        pending = TraceData()
        pendingSpans = 0
        generation += 1
        timer?.cancel()
        timer = nil
        let pieces = batch.split(maxSpans: config.sendBatchMaxSize)
        for piece in pieces { counters.sendSize.record(Double(piece.spanCount)) }
        stuck += await offer(pieces)
        if !stuck.isEmpty { startRetrier() }
    }

    /// Offers pieces in order; returns those not taken (retryable refusals). Pieces refused for
    /// good are dropped with an error log: retrying cannot deliver them.
    private func offer(_ pieces: [TraceData]) async -> [TraceData] {
        for (i, piece) in pieces.enumerated() {
            do {
                try await next.consume(piece)
            } catch PipelineError.refused {
                return Array(pieces[i...])
            } catch {
                logger.error("dropping a batch the exporters refused for good", metadata: ["error": "\(error)", "spans": "\(piece.spanCount)"])
            }
        }
        return []
    }

    private func offerStuck() async {
        guard !stuck.isEmpty else { return }
        let pieces = stuck
        stuck = []
        stuck = await offer(pieces) + stuck
    }

    private func startRetrier() {
        guard retrier == nil else { return }
        retrier = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: BatchProcessor.retryInterval)
                guard let self, await self.retryOnce() else { return }
            }
        }
    }

    /// One retry of the held batch; false once nothing is held any more.
    private func retryOnce() async -> Bool {
        await offerStuck()
        if stuck.isEmpty {
            retrier = nil
            return false
        }
        return true
    }

    /// Hands on everything held, retrying refused batches up to a deadline; later data passes
    /// straight through.
    public func shutdown() async {
        stopped = true
        timer?.cancel()
        retrier?.cancel()
        retrier = nil
        if pendingSpans > 0 { await flushPending() }
        retrier?.cancel()
        retrier = nil
        let deadline = ContinuousClock.now + Self.shutdownDeadline
        while !stuck.isEmpty && ContinuousClock.now < deadline {
            await offerStuck()
            if !stuck.isEmpty { try? await Task.sleep(for: Self.retryInterval) }
        }
        if !stuck.isEmpty {
            let lost = stuck.reduce(0) { $0 + $1.spanCount }
            logger.error("shutdown: the exporters did not take the last batch; spans lost", metadata: ["spans": "\(lost)"])
            stuck = []
        }
    }
}
