import Foundation

/// The few file operations the persistent queue, the tail-sampling journal, the file exporter
/// and the log share, written once.
enum FileIO {
    /// Writes every byte (retrying interrupted and short writes); false on an error, with
    /// `errno` telling which.
    static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < raw.count {
            let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Opens (creating) `path` in `directory`; a directory that was removed under a running
    /// process is made again rather than every later write refused. -1 with `errno` on failure.
    static func openCreating(_ path: String, in directory: String, flags: Int32) -> Int32 {
        let fd = open(path, flags | O_CREAT | O_CLOEXEC, 0o640)
        guard fd < 0 && errno == ENOENT else { return fd }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return open(path, flags | O_CREAT | O_CLOEXEC, 0o640)
    }

    /// Damaged bytes at the end of `path` from `offset` on: copied to
    /// `<path>.tail-<offset>.corrupt` and cut off. Returns the copy's path, nil if it could not
    /// be written (the bytes are cut off anyway: they are never read again).
    static func moveTailAside(of path: String, tail: [UInt8], at offset: Int) -> String? {
        let aside = path + ".tail-\(offset).corrupt"
        let copied = FileManager.default.createFile(atPath: aside, contents: Data(tail))
        _ = truncate(path, off_t(offset))
        return copied ? aside : nil
    }
}

/// Big-endian integers in the queue's and the journal's headers.
enum BigEndian {
    static func append(_ v: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    static func append(_ v: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    static func uint32(_ b: [UInt8], at i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func uint64(_ b: [UInt8], at i: Int) -> UInt64 {
        UInt64(uint32(b, at: i)) << 32 | UInt64(uint32(b, at: i + 4))
    }
}
