import Foundation

/// An append-only file of whole lines with a write buffer and size-based rotation. Rotated files
/// are named `<name>-<YYYY-MM-DDTHH-MM-SS.mmm>-size<ext>` (as the collector names them), the
/// oldest beyond `max_backups` or older than `max_days` are deleted.
actor FileSink {
    struct IOError: Error, CustomStringConvertible {
        var description: String
    }

    let path: String
    let append: Bool
    let rotation: FileExporterConfig.Rotation?
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private var fileSize = 0
    static let bufferLimit = 256 * 1024

    init(path: String, append: Bool, rotation: FileExporterConfig.Rotation?) {
        self.path = path
        self.append = append
        self.rotation = rotation
    }

    func open() throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        fd = Foundation.open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
        guard fd >= 0 else { throw IOError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        var st = stat()
        fstat(fd, &st)
        fileSize = Int(st.st_size)
        if append { lseek(fd, 0, SEEK_END) }
    }

    /// Buffers one whole line; writes through when the buffer is full or the file must rotate first.
    func write(_ line: [UInt8]) throws {
        guard fd >= 0 else { throw IOError(description: "file is not open") }
        if let r = rotation, fileSize + buffer.count + line.count > r.maxMegabytes * 1024 * 1024, fileSize + buffer.count > 0 {
            try flush()
            try rotate(r)
        }
        buffer.append(contentsOf: line)
        if buffer.count >= Self.bufferLimit { try flush() }
    }

    func flush() throws {
        guard fd >= 0, !buffer.isEmpty else { return }
        guard buffer.withUnsafeBytes({ FileIO.writeAll(fd, $0) }) else {
            throw IOError(description: "write to \(path) failed: \(String(cString: strerror(errno)))")
        }
        fileSize += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        defer {
            if fd >= 0 { Foundation.close(fd) }
            fd = -1
        }
        try flush()
        if fd >= 0 { fsync(fd) }
    }

    private func rotate(_ r: FileExporterConfig.Rotation) throws {
        Foundation.close(fd)
        fd = -1
        // Two rotations within one millisecond must not overwrite each other's backup.
        var when = Date()
        var backup = Self.backupName(for: path, at: when, localtime: r.localtime)
        while FileManager.default.fileExists(atPath: backup) {
            when = when.addingTimeInterval(0.001)
            backup = Self.backupName(for: path, at: when, localtime: r.localtime)
        }
        if rename(path, backup) != 0 {
            throw IOError(description: "cannot rotate \(path) to \(backup): \(String(cString: strerror(errno)))")
        }
        fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOError(description: "cannot reopen \(path): \(String(cString: strerror(errno)))") }
        fileSize = 0
        pruneBackups(r)
    }

    static func backupName(for path: String, at date: Date, localtime: Bool) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let base = url.deletingPathExtension().lastPathComponent
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = localtime ? .current : TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH-mm-ss.SSS"
        let name = "\(base)-\(f.string(from: date))-size" + (ext.isEmpty ? "" : ".\(ext)")
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Deletes backups beyond `max_backups` (oldest first) and older than `max_days`.
    private func pruneBackups(_ r: FileExporterConfig.Rotation) {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let base = url.deletingPathExtension().lastPathComponent + "-"
        let ext = url.pathExtension.isEmpty ? "" : "." + url.pathExtension
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        // The timestamp in the name sorts chronologically.
        var backups = names.filter { $0.hasPrefix(base) && $0.hasSuffix("-size" + ext) }.sorted()
        if r.maxDays > 0 {
            let cutoff = Date().addingTimeInterval(-Double(r.maxDays) * 86400)
            backups.removeAll { name in
                let p = dir + "/" + name
                if let m = (try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date, m < cutoff {
                    try? FileManager.default.removeItem(atPath: p)
                    return true
                }
                return false
            }
        }
        if r.maxBackups > 0 && backups.count > r.maxBackups {
            for name in backups.prefix(backups.count - r.maxBackups) {
                try? FileManager.default.removeItem(atPath: dir + "/" + name)
            }
        }
    }
}
