import CMalloc
import Atomics
import Foundation
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
    /// Where resident memory is read from; replaceable in tests.
    let measure: @Sendable () -> UInt64

    public init(config: MemoryLimiterConfig, context: ComponentContext, next: any TraceConsumer, measure: @escaping @Sendable () -> UInt64 = ProcessMemory.residentBytes) {
        self.config = config
        self.next = next
        self.logger = context.logger
        self.measure = measure
        (soft, hard) = config.limits(total: ProcessMemory.availableBytes())
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
        let used = measure()
        let over = used >= soft
        if used >= hard {
            // Give freed heap pages back to the system so the next measurement sees them gone.
            ProcessMemory.trim()
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

/// Reading the process's memory on Linux.
public enum ProcessMemory {
    /// The heap as glibc's allocator sees it: bytes handed out to the program, and bytes it holds
    /// from the system (mmap'd blocks included). The rest of RSS is code, stacks and free pages.
    public static func heap() -> (inUse: UInt64, fromSystem: UInt64) {
        let m = mallinfo2()
        return (UInt64(m.uordblks + m.hblkhd), UInt64(m.arena + m.hblkhd))
    }

    /// Resident set size, from /proc/self/statm.
    public static func residentBytes() -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The memory this process may use: its cgroup's limit when there is one, else the machine's.
    public static func availableBytes() -> UInt64 {
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let t = try? String(contentsOfFile: path, encoding: .utf8), let v = UInt64(t.trimmingWhitespace()),
               v > 0, v < 1 << 60 {
                return v
            }
        }
        let pages = UInt64(sysconf(Int32(_SC_PHYS_PAGES)))
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    public static func trim() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }
}

#if os(Linux)
/// glibc's malloc_trim (not in the Glibc module map): returns free heap pages to the system.
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
