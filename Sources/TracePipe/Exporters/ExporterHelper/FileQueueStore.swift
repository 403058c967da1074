import CZlib
import Foundation

/// The on-disk side of a persistent queue: one file per queued request in the client's directory,
/// named `<sequence>-<spans>.rec` and holding `TPQ1`, the payload length, its CRC-32 and the
/// payload (the request as OTLP protobuf). A record is written to a `.tmp` file and renamed into
/// place, so a crash mid-write leaves a `.tmp` that is ignored (and removed) at the next start;
/// a record whose length or checksum does not match (a torn or corrupted write) is reported and
/// skipped without touching the records around it.
struct FileQueueStore: Sendable {
    struct Record: Sendable, Equatable {
        var sequence: UInt64
        var spans: Int
        var bytes: Int
    }

    struct Corrupt: Error, CustomStringConvertible {
        var file: String
        var reason: String
        var description: String { "\(file): \(reason)" }
    }

    static let magic: [UInt8] = Array("TPQ1".utf8)
    let directory: String
    let fsync: Bool

    init(directory: String, fsync: Bool) throws {
        self.directory = directory
        self.fsync = fsync
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(_ r: Record) -> String {
        directory + "/" + String(format: "%020llu-%d.rec", r.sequence, r.spans)
    }

    /// The records present, oldest first, and the names of leftovers that were removed.
    func scan() -> (records: [Record], removed: [String]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var records: [Record] = []
        var removed: [String] = []
        for name in names {
            if name.hasSuffix(".tmp") {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
                removed.append(name)
                continue
            }
            guard name.hasSuffix(".rec") else { continue }
            let parts = name.dropLast(4).split(separator: "-")
            guard parts.count == 2, let seq = UInt64(parts[0]), let spans = Int(parts[1]) else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int) ?? 0
            records.append(Record(sequence: seq, spans: spans, bytes: size))
        }
        records.sort { $0.sequence < $1.sequence }
        return (records, removed)
    }

    /// Writes a record durably enough for a process crash (and, with fsync, a power loss).
    func write(sequence: UInt64, spans: Int, payload: [UInt8]) throws -> Record {
        var header = Self.magic
        let length = UInt32(payload.count)
        let crc = payload.withUnsafeBytes { UInt32(crc32(0, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count))) }
        withUnsafeBytes(of: length.bigEndian) { header.append(contentsOf: $0) }
        withUnsafeBytes(of: crc.bigEndian) { header.append(contentsOf: $0) }
        let record = Record(sequence: sequence, spans: spans, bytes: header.count + payload.count)
        let final = path(record)
        let tmp = directory + "/" + String(format: "%020llu.tmp", sequence)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Corrupt(file: tmp, reason: "cannot create: \(String(cString: strerror(errno)))") }
        var ok = writeAll(fd, header) && writeAll(fd, payload)
        if ok && fsync { ok = Foundation.fsync(fd) == 0 }
        let writeErrno = errno
        close(fd)
        guard ok else {
            unlink(tmp)
            throw Corrupt(file: tmp, reason: "cannot write: \(String(cString: strerror(writeErrno)))")
        }
        guard rename(tmp, final) == 0 else {
            unlink(tmp)
            throw Corrupt(file: final, reason: "cannot rename into place: \(String(cString: strerror(errno)))")
        }
        if fsync {
            let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dfd >= 0 {
                _ = Foundation.fsync(dfd)
                close(dfd)
            }
        }
        return record
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }

    /// Reads and checks a record's payload.
    func read(_ r: Record) throws -> [UInt8] {
        let p = path(r)
        guard let data = FileManager.default.contents(atPath: p) else { throw Corrupt(file: p, reason: "missing or unreadable") }
        let bytes = [UInt8](data)
        guard bytes.count >= 12, Array(bytes[0..<4]) == Self.magic else { throw Corrupt(file: p, reason: "not a queue record (bad header)") }
        let length = Int(UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7]))
        let crc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
        guard bytes.count - 12 == length else {
            throw Corrupt(file: p, reason: "truncated record: header says \(length) bytes, file holds \(bytes.count - 12)")
        }
        let payload = Array(bytes[12...])
        let actual = payload.withUnsafeBytes { UInt32(crc32(0, $0.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt($0.count))) }
        guard actual == crc else { throw Corrupt(file: p, reason: "checksum mismatch") }
        return payload
    }

    func delete(_ r: Record) {
        unlink(path(r))
    }

    /// Moves a bad record aside (`.corrupt`) so it is kept for inspection but never read again.
    func quarantine(_ r: Record) {
        let p = path(r)
        rename(p, p + ".corrupt")
    }
}
