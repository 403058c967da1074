/// The settings every queued exporter shares (`timeout`, `sending_queue`, `retry_on_failure`),
/// with the collector's keys and defaults plus two of tracepipe's own (`memory_limit_mib`,
/// `drain_timeout`) that keep memory bounded and shutdown prompt.
public struct ExporterHelperConfig: Sendable, Equatable {
    public enum Sizer: String, ConfigEnum { case requests, items, bytes }

    public struct Batch: Decodable, Sendable, Equatable {
        public var flushTimeout = ConfigDuration.milliseconds(200)
        public var minSize = 8192
        public var maxSize = 0
        public var sizer = Sizer.items
        /// `partition.metadata_keys`: requests whose values of these request-metadata keys
        /// differ are never merged into one batch.
        public var partitionKeys: [String] = []

        public init() {}

        enum Keys: String, CodingKey { case flush_timeout, min_size, max_size, sizer, partition }
        enum PartitionKeys: String, CodingKey { case metadata_keys }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            flushTimeout = try c.value(.flush_timeout, or: flushTimeout)
            minSize = try c.value(.min_size, or: 8192)
            maxSize = try c.value(.max_size, or: 0)
            sizer = try c.value(.sizer, or: .items)
            guard flushTimeout.nanoseconds > 0 else { throw decoder.invalid("flush_timeout", "must be greater than zero") }
            guard minSize >= 0 else { throw decoder.invalid("min_size", "must not be negative") }
            guard maxSize >= 0 else { throw decoder.invalid("max_size", "must not be negative") }
            if maxSize > 0 && maxSize < minSize { throw decoder.invalid("max_size", "must be at least min_size (\(minSize))") }
            if sizer == .requests { throw decoder.invalid("sizer", "\"requests\" is not a batch sizer (use items or bytes)") }
            if sizer == .bytes { decoder.reportUnsupported("sizer", "batching by bytes is not supported yet; use items") }
            if c.contains(.partition) {
                let p = try c.nestedContainer(keyedBy: PartitionKeys.self, forKey: .partition)
                partitionKeys = try p.value(.metadata_keys, or: [])
                if let dup = RequestMetadata.caseInsensitiveDuplicate(in: partitionKeys) {
                    throw decoder.invalid("partition", "duplicate entry in metadata_keys: \"\(dup)\" (case-insensitive)")
                }
            }
        }
    }

    public struct Queue: Sendable, Equatable {
        public var enabled = true
        public var numConsumers = 10
        public var queueSize = 1000
        public var sizer = Sizer.requests
        public var blockOnOverflow = false
        public var waitForResult = false
        public var storage: ComponentID?
        public var batch: Batch?
        /// tracepipe: bytes of trace data an in-memory queue may hold, whatever `queue_size` says.
        public var memoryLimitBytes = 64 * 1024 * 1024
        /// tracepipe: how long shutdown keeps sending what is queued in memory.
        public var drainTimeout = ConfigDuration.seconds(10)

        public init() {}
    }

    public struct Retry: Decodable, Sendable, Equatable {
        public var enabled = true
        public var initialInterval = ConfigDuration.seconds(5)
        public var randomizationFactor = 0.5
        public var multiplier = 1.5
        public var maxInterval = ConfigDuration.seconds(30)
        public var maxElapsedTime = ConfigDuration.seconds(300)

        public init() {}

        enum Keys: String, CodingKey { case enabled, initial_interval, randomization_factor, multiplier, max_interval, max_elapsed_time }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            enabled = try c.value(.enabled, or: true)
            initialInterval = try c.value(.initial_interval, or: initialInterval)
            randomizationFactor = try c.value(.randomization_factor, or: 0.5)
            multiplier = try c.value(.multiplier, or: 1.5)
            maxInterval = try c.value(.max_interval, or: maxInterval)
            maxElapsedTime = try c.value(.max_elapsed_time, or: maxElapsedTime)
            guard initialInterval.nanoseconds >= 0 else { throw decoder.invalid("initial_interval", "must not be negative") }
            guard (0...1).contains(randomizationFactor) else { throw decoder.invalid("randomization_factor", "must be between 0 and 1") }
            guard multiplier >= 0 else { throw decoder.invalid("multiplier", "must not be negative") }
            guard maxInterval.nanoseconds >= 0 else { throw decoder.invalid("max_interval", "must not be negative") }
            guard maxElapsedTime.nanoseconds >= 0 else { throw decoder.invalid("max_elapsed_time", "must not be negative") }
            if maxElapsedTime.nanoseconds > 0 && (maxElapsedTime.nanoseconds < initialInterval.nanoseconds || maxElapsedTime.nanoseconds < maxInterval.nanoseconds) {
                throw decoder.invalid("max_elapsed_time", "must be at least initial_interval and max_interval (or 0 to retry forever)")
            }
        }
    }

    /// Per-attempt timeout (0 = none).
    public var timeout: ConfigDuration
    public var queue = Queue()
    public var retry = Retry()

    public init(timeout: ConfigDuration = .seconds(5)) {
        self.timeout = timeout
    }

    enum Keys: String, CodingKey { case timeout, sending_queue, retry_on_failure }
    enum QueueKeys: String, CodingKey {
        case enabled, num_consumers, queue_size, sizer, block_on_overflow, blocking, wait_for_result, storage, batch
        case memory_limit_mib, drain_timeout
    }

    /// Reads the helper's keys from a component's mapping (its other keys are its own business).
    public init(from decoder: any Decoder, defaultTimeout: ConfigDuration, queueEnabledByDefault: Bool = true) throws {
        self.init(timeout: defaultTimeout)
        queue.enabled = queueEnabledByDefault
        let c = try decoder.container(keyedBy: Keys.self)
        timeout = try c.value(.timeout, or: defaultTimeout)
        guard timeout.nanoseconds >= 0 else { throw decoder.invalid("timeout", "'timeout' must be non-negative") }
        retry = try c.value(.retry_on_failure, or: Retry())
        guard c.contains(.sending_queue) else { return }
        let q = try c.nestedContainer(keyedBy: QueueKeys.self, forKey: .sending_queue)
        let qd = try c.superDecoder(forKey: .sending_queue)
        queue.enabled = try q.value(.enabled, or: true)
        queue.numConsumers = try q.value(.num_consumers, or: 10)
        queue.queueSize = try q.value(.queue_size, or: 1000)
        queue.sizer = try q.value(.sizer, or: .requests)
        queue.blockOnOverflow = try q.decodeIfPresent(Bool.self, forKey: .block_on_overflow) ?? q.decodeIfPresent(Bool.self, forKey: .blocking) ?? false
        queue.waitForResult = try q.value(.wait_for_result, or: false)
        if let s = try q.decodeIfPresent(String.self, forKey: .storage), !s.isEmpty {
            switch ComponentID.parse(s) {
            case .success(let id): queue.storage = id
            case .failure(let e): throw qd.invalid("storage", e.message)
            }
        }
        queue.batch = try q.section(.batch, default: Batch())
        if let mib = try q.decodeIfPresent(Int.self, forKey: .memory_limit_mib) {
            guard mib > 0 else { throw qd.invalid("memory_limit_mib", "must be greater than zero") }
            queue.memoryLimitBytes = mib * 1024 * 1024
        }
        queue.drainTimeout = try q.value(.drain_timeout, or: queue.drainTimeout)
        guard !queue.enabled || queue.numConsumers > 0 else { throw qd.invalid("num_consumers", "`num_consumers` must be positive") }
        guard !queue.enabled || queue.queueSize > 0 else { throw qd.invalid("queue_size", "`queue_size` must be positive") }
        if queue.waitForResult && queue.storage != nil {
            throw qd.invalid("wait_for_result", "`wait_for_result` is not supported with a persistent queue configured with `storage`")
        }
        if let b = queue.batch, b.sizer == queue.sizer, b.minSize > queue.queueSize {
            throw qd.invalid("batch", "min_size (\(b.minSize)) must not exceed queue_size (\(queue.queueSize)) when both count \(b.sizer.rawValue)")
        }
    }
}
