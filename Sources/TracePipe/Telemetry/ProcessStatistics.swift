/// What the running process can tell about itself: memory and CPU for the own-metrics endpoint
/// and the memory limiter. The library never reads `/proc` or calls the allocator itself: the
/// executable hands it an implementation (`TracePipePlatform.LinuxProcess`), tests a fake.
public protocol ProcessStatistics: Sendable {
    /// Resident set size in bytes.
    func residentBytes() -> UInt64
    /// The heap as the allocator sees it: bytes handed out, and bytes held from the system.
    func heap() -> (inUse: UInt64, fromSystem: UInt64)
    /// User and system CPU time in seconds.
    func cpuSeconds() -> Double
    /// The memory this process may use: its cgroup's limit when there is one, else the machine's.
    func memoryLimitBytes() -> UInt64
    /// Asks the allocator to return free heap pages to the system (the memory limiter's hard limit).
    func releaseFreeHeap()
}

/// For components built without a platform (tests, benchmarks): reports nothing.
public struct UnknownProcessStatistics: ProcessStatistics {
    public init() {}
    public func residentBytes() -> UInt64 { 0 }
    public func heap() -> (inUse: UInt64, fromSystem: UInt64) { (0, 0) }
    public func cpuSeconds() -> Double { 0 }
    public func memoryLimitBytes() -> UInt64 { 0 }
    public func releaseFreeHeap() {}
}
