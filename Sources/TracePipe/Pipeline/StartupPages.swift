import Foundation

/// Start-up runs code a running pipeline never needs again (the config loader and YAML parser,
/// the argument parser, validation, socket and TLS setup), and its pages stayed resident: 1-2 MB
/// of a 16 MB process after its first request, more before it. Once everything has started, the executable's code and read-only
/// data are unmapped (MADV_DONTNEED); the pages the pipeline does use are mapped again from the
/// page cache on first touch, as minor faults without disk reads (DONTNEED, unlike PAGEOUT,
/// leaves the page cache alone).
///
/// Only the executable's read-only mappings up to and including its code: nothing there is ever
/// written, so unmapping loses nothing. The writable data after them (and the relocated
/// read-only data, which is a private copy) is left as it is.
enum StartupPages {
    struct Range: Equatable {
        var start: UInt
        var length: Int
    }

    /// Hands the pages back; returns the bytes of address space advised (0 where unsupported).
    @discardableResult
    static func release() -> Int {
        #if os(Linux)
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)
        else { return 0 }
        var advised = 0
        for r in ranges(maps: maps, executable: exe) {
            if madvise(UnsafeMutableRawPointer(bitPattern: r.start), r.length, MADV_DONTNEED) == 0 { advised += r.length }
        }
        return advised
        #else
        return 0
        #endif
    }

    /// The executable's private read-only and read-execute mappings whose file offset is not past
    /// its (last) code mapping: the segments before the code and the code itself.
    static func ranges(maps: String, executable: String) -> [Range] {
        struct Mapping {
            var range: Range
            var perms: Substring
            var offset: UInt64
        }
        let mine: [Mapping] = maps.split(separator: "\n").compactMap { line in
            // "start-end perms offset dev inode path"; the path may contain spaces.
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard f.count == 6, f[5].trimmingCharacters(in: .whitespaces) == executable else { return nil }
            let bounds = f[0].split(separator: "-")
            guard bounds.count == 2, let lo = UInt(bounds[0], radix: 16), let hi = UInt(bounds[1], radix: 16), hi > lo,
                  let offset = UInt64(f[2], radix: 16)
            else { return nil }
            return Mapping(range: Range(start: lo, length: Int(hi - lo)), perms: f[1], offset: offset)
        }
        guard let codeOffset = mine.filter({ $0.perms == "r-xp" }).map(\.offset).max() else { return [] }
        return mine.filter { ($0.perms == "r--p" || $0.perms == "r-xp") && $0.offset <= codeOffset }.map(\.range)
    }
}
