import CMalloc
import TracePipe

#if canImport(Glibc)
import Glibc
#endif

/// `ProcessStatistics` on Linux: `/proc/self`, the cgroup's memory limit, glibc's heap.
public struct LinuxProcess: ProcessStatistics {
    public init() {}

    public func residentBytes() -> UInt64 {
        // statm's second field: resident pages.
        guard let text = Self.read("/proc/self/statm") else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Anonymous resident memory (`RssAnon`): heap, stacks and buffers, without mapped files.
    public func anonymousBytes() -> UInt64 {
        guard let text = Self.read("/proc/self/status") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            let kb = line.dropFirst("RssAnon:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { UInt64($0) } ?? 0
            return kb * 1024
        }
        return 0
    }

    public func heap() -> (inUse: UInt64, fromSystem: UInt64) {
        let m = mallinfo2()
        return (UInt64(m.uordblks + m.hblkhd), UInt64(m.arena + m.hblkhd))
    }

    public func cpuSeconds() -> Double {
        guard let stat = Self.read("/proc/self/stat"), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public func memoryLimitBytes() -> UInt64 {
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let t = Self.read(path), let v = UInt64(t.filter { !$0.isWhitespace }), v > 0, v < 1 << 60 {
                return v
            }
        }
        return UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    public func releaseFreeHeap() {
        _ = malloc_trim(0)
    }

    /// A small file of /proc or /sys, whole (read to its end: these report a size of 0).
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
