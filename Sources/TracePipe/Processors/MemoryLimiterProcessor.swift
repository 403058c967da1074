import Atomics
import FoundationEssentials
import Logging
import TraceModel

/// `processors.memory_limiter`: measures the process's resident memory every `check_interval`;
/// above the soft limit (limit − spike) it refuses data with the pipeline's backpressure error
/// (clients get 503 + Retry-After and retry), above the hard limit it also asks the allocator to
/// return free memory to the system. It lets data through again as soon as usage drops.
public struct MemoryLimiterConfig: Decodable, Sendable {
    public var checkInterval = ConfigDuration(nanoseconds: 0)
    public var limitMiB = 0
    public var spikeLimitMiB = 0
    public var limitPercentage = 0
    public var spikeLimitPercentage = 0

    enum Keys: String, CodingKey { case check_interval, limit_mib, spike_limit_mib, limit_percentage, spike_limit_percentage }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        checkInterval = try c.value(.check_interval, or: checkInterval)
        limitMiB = try c.value(.limit_mib, or: 0)
        spikeLimitMiB = try c.value(.spike_limit_mib, or: 0)
        limitPercentage = try c.value(.limit_percentage, or: 0)
        spikeLimitPercentage = try c.value(.spike_limit_percentage, or: 0)
        guard checkInterval.nanoseconds > 0 else { throw decoder.invalid("check_interval", "checkInterval must be greater than zero") }
        guard limitMiB > 0 || limitPercentage > 0 else {
            throw decoder.invalid("limit_mib", "set limit_mib or limit_percentage (dataloss is prevented only with a limit)")
        }
        if limitMiB > 0 && spikeLimitMiB >= limitMiB {
            throw decoder.invalid("spike_limit_mib", "spike_limit_mib must be smaller than limit_mib")
        }
        guard (0...100).contains(limitPercentage), (0...100).contains(spikeLimitPercentage) else {
            throw decoder.invalid("limit_percentage", "percentages are between 0 and 100")
        }
        if limitPercentage > 0 && spikeLimitPercentage >= limitPercentage {
            throw decoder.invalid("spike_limit_percentage", "spike_limit_percentage must be smaller than limit_percentage")
        }
    }

    /// (soft, hard) limits in bytes; percentages apply to the cgroup limit or the machine's memory.
    func limits(total: UInt64) -> (soft: UInt64, hard: UInt64) {
        let hard: UInt64
        var spike: UInt64
        if limitMiB > 0 {
            hard = UInt64(limitMiB) << 20
            spike = UInt64(spikeLimitMiB) << 20
        } else {
            hard = total / 100 * UInt64(limitPercentage)
            spike = total / 100 * UInt64(spikeLimitPercentage)
        }
        if spike == 0 { spike = hard / 5 }  // the collector's default: 20 % of the limit
        return (hard - min(spike, hard), hard)
    }
}

public final class MemoryLimiterProcessor: Processor {
    let config: MemoryLimiterConfig
    let next: any TraceConsumer
    let logger: Logger
    let soft: UInt64
    let hard: UInt64
    private let refusing = ManagedAtomic(false)
    private let task = TaskBox()
    /// Where resident memory is read from and freed heap handed back (the context's process).
    let process: any ProcessStatistics

    public init(config: MemoryLimiterConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.next = next
        self.logger = context.logger
        self.process = context.process
        (soft, hard) = config.limits(total: context.process.memoryLimitBytes())
    }

    public func start(_ host: ComponentHost) async throws {
        logger.info("memory limiter", metadata: ["soft_limit_mib": "\(soft >> 20)", "hard_limit_mib": "\(hard >> 20)"])
        check()
        let interval = config.checkInterval.duration
        task.set(Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                self?.check()
            }
        })
    }

    public func shutdown() async {
        task.cancel()
    }

    /// One measurement: decides whether data is refused until the next one.
    func check() {
        let used = process.residentBytes()
        let over = used >= soft
        if used >= hard {
            // Give freed heap pages back to the system so the next measurement sees them gone.
            process.releaseFreeHeap()
        }
        let was = refusing.exchange(over, ordering: .relaxed)
        if over != was {
            if over {
                logger.warning("memory usage is above the soft limit; refusing data until it drops (clients get 503)",
                               metadata: ["used_mib": "\(used >> 20)", "soft_limit_mib": "\(soft >> 20)"])
            } else {
                logger.info("memory usage is back under the soft limit; accepting data", metadata: ["used_mib": "\(used >> 20)"])
            }
        }
    }

    public func consume(_ data: consuming TraceData) async throws {
        if refusing.load(ordering: .relaxed) {
            throw PipelineError.refused("memory usage is above the memory_limiter's soft limit", retryAfter: config.checkInterval.duration)
        }
        try await next.consume(consume data)
    }
}
