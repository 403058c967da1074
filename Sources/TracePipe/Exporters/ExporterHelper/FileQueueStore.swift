import Foundation

/// The on-disk side of a persistent queue: one file per queued request in the client's directory,
/// named `<sequence>-<spans>.rec`. A record holds `TPQ1`, the payload length, its CRC-32 and the
/// payload (the request as OTLP protobuf); a request that carries request metadata (for an
/// authenticator such as headers_setter) is written as `TPQ2`: magic, metadata length, payload
/// length, one CRC-32 over both, the metadata, the payload.
///
/// A record is written to a `.tmp` file and renamed into place, so a crash mid-write leaves a
/// `.tmp` that is ignored (and removed) at the next start. What a power loss or a bad disk can
/// still leave (a file cut short, garbage after a record, a bad checksum) is found at start
/// (lengths) or at read (checksum), reported with the file and offset, and set aside as
/// `.corrupt` without touching the records around it. A failed write (disk full, directory
/// unwritable) removes its `.tmp` and leaves every queued record as it was.
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

    /// A damaged record found at start, and what was done with it.
    struct Damage: Sendable, Equatable, CustomStringConvertible {
        var file: String
        /// Where the damage starts in the file.
        var offset: Int
        /// Bytes set aside.
        var bytes: Int
        var reason: String
        /// Whether the record itself was kept (only a tail after it was damaged).
        var recordKept: Bool
        var description: String { "\(file) at offset \(offset): \(reason)" }
    }

    static let magic: [UInt8] = Array("TPQ1".utf8)
    static let magicWithMetadata: [UInt8] = Array("TPQ2".utf8)
    let directory: String
    let fsync: Bool
    /// Held for the store's life: one process per directory.
    let lock: DirectoryLock

    init(directory: String, fsync: Bool) throws {
        self.directory = directory
        self.fsync = fsync
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        lock = try DirectoryLock(directory: directory)
    }

    func path(_ r: Record) -> String {
        directory + "/" + String(format: "%020llu-%d.rec", r.sequence, r.spans)
    }

    /// The records present, oldest first; the names of leftovers that were removed; and the
    /// damaged records that were set aside or cut back to their intact length.
    func scan() -> (records: [Record], removed: [String], damaged: [Damage]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var records: [Record] = []
        var removed: [String] = []
        var damaged: [Damage] = []
        for name in names {
            if name.hasSuffix(".tmp") {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
                removed.append(name)
                continue
            }
            guard name.hasSuffix(".rec") else { continue }
            let parts = name.dropLast(4).split(separator: "-")
            guard parts.count == 2, let seq = UInt64(parts[0]), let spans = Int(parts[1]) else { continue }
            var record = Record(sequence: seq, spans: spans, bytes: 0)
            switch check(record) {
            case .intact(let size):
                record.bytes = size
                records.append(record)
            case .trailingGarbage(let size, let damage):
                record.bytes = size
                records.append(record)
                damaged.append(damage)
            case .setAside(let damage):
                damaged.append(damage)
            }
        }
        records.sort { $0.sequence < $1.sequence }
        return (records, removed, damaged)
    }

    enum Check {
        case intact(size: Int)
        /// The record is whole; bytes after it were moved aside and the file cut back to `size`.
        case trailingGarbage(size: Int, Damage)
        /// The record cannot be whole: the file was renamed to `.corrupt`.
        case setAside(Damage)
    }

    /// Compares a record file's length with what its header promises (a cheap check: the
    /// checksum is verified when the record is read). A file cut short is set aside whole; bytes
    /// beyond the record (a torn append, garbage) are copied to `<file>.tail-<offset>.corrupt`
    /// and cut off, so the record itself is still sent.
    func check(_ r: Record) -> Check {
        let p = path(r)
        let fd = open(p, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            return .setAside(setAside(p, Damage(file: p, offset: 0, bytes: 0, reason: "unreadable: \(String(cString: strerror(errno)))", recordKept: false)))
        }
        defer { close(fd) }
        var st = stat()
        let size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        let expected: Int
        switch Self.parseHeader(Self.readAll(fd, count: min(16, size), at: 0)) {
        case .header(let h):
            expected = h.recordLength
        case .cutShort:
            let reason = "cut short inside the record header: the file ends at offset \(size)"
            return .setAside(setAside(p, Damage(file: p, offset: size, bytes: size, reason: reason, recordKept: false)))
        case .notARecord:
            let reason = "not a queue record (bad header at offset 0)"
            return .setAside(setAside(p, Damage(file: p, offset: 0, bytes: size, reason: reason, recordKept: false)))
        }
        if size < expected {
            let reason = "cut short: the record needs \(expected) bytes, the file ends at offset \(size)"
            return .setAside(setAside(p, Damage(file: p, offset: size, bytes: size, reason: reason, recordKept: false)))
        }
        guard size > expected else { return .intact(size: size) }
        let extra = size - expected
        let tail = Self.readAll(fd, count: extra, at: expected)
        var aside: String?
        if tail.count == extra {
            aside = FileIO.moveTailAside(of: p, tail: tail, at: expected)
        } else {
            _ = ftruncate(fd, off_t(expected))
        }
        let reason = "\(extra) bytes after the end of the record" + (aside.map { " (moved to \($0))" } ?? " (could not be copied aside)")
        if fsync { _ = Foundation.fsync(fd) }
        return .trailingGarbage(size: expected, Damage(file: p, offset: expected, bytes: extra, reason: reason, recordKept: true))
    }

    /// A record file's header: its own length, the metadata's and the payload's, the checksum.
    struct Header {
        var length: Int
        var metadataLength: Int
        var payloadLength: Int
        var crc: UInt32
        var recordLength: Int { length + metadataLength + payloadLength }
    }

    enum HeaderParse {
        case header(Header)
        /// Fewer bytes than a header of its kind needs.
        case cutShort
        case notARecord
    }

    /// Reads the header from a file's first (up to) 16 bytes.
    static func parseHeader(_ head: [UInt8]) -> HeaderParse {
        let magic = head.count >= 4 ? Array(head[0..<4]) : []
        if magic == Self.magic, head.count >= 12 {
            return .header(Header(length: 12, metadataLength: 0, payloadLength: Int(BigEndian.uint32(head, at: 4)),
                                  crc: BigEndian.uint32(head, at: 8)))
        }
        if magic == Self.magicWithMetadata, head.count >= 16 {
            return .header(Header(length: 16, metadataLength: Int(BigEndian.uint32(head, at: 4)),
                                  payloadLength: Int(BigEndian.uint32(head, at: 8)), crc: BigEndian.uint32(head, at: 12)))
        }
        return head.count < 12 || magic == Self.magicWithMetadata ? .cutShort : .notARecord
    }

    private func setAside(_ p: String, _ d: Damage) -> Damage {
        rename(p, p + ".corrupt")
        return d
    }

    /// A request in its on-disk form, before it is written: the header (with any metadata) and
    /// the payload. `size` is what the record will take on disk.
    struct Prepared {
        var header: [UInt8]
        var payload: [UInt8]
        var size: Int { header.count + payload.count }
    }

    static func prepare(payload: [UInt8], metadata: [String: [String]] = [:]) -> Prepared {
        var header: [UInt8]
        let meta = encode(metadata)
        let crc = crc(payload, crc(meta, 0))
        if metadata.isEmpty {
            header = magic
        } else {
            header = magicWithMetadata
            BigEndian.append(UInt32(meta.count), to: &header)
        }
        BigEndian.append(UInt32(payload.count), to: &header)
        BigEndian.append(crc, to: &header)
        header += meta
        return Prepared(header: header, payload: payload)
    }

    /// Writes a record durably enough for a process crash (and, with fsync, a power loss).
    func write(sequence: UInt64, spans: Int, payload: [UInt8], metadata: [String: [String]] = [:]) throws -> Record {
        try write(sequence: sequence, spans: spans, Self.prepare(payload: payload, metadata: metadata))
    }

    func write(sequence: UInt64, spans: Int, _ prepared: Prepared) throws -> Record {
        let (header, payload) = (prepared.header, prepared.payload)
        let record = Record(sequence: sequence, spans: spans, bytes: prepared.size)
        let final = path(record)
        let tmp = directory + "/" + String(format: "%020llu.tmp", sequence)
        let fd = FileIO.openCreating(tmp, in: directory, flags: O_WRONLY | O_TRUNC)
        guard fd >= 0 else { throw Corrupt(file: tmp, reason: "cannot create: \(String(cString: strerror(errno)))") }
        var ok = writeAll(fd, header, payload)
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

    /// Writes both buffers, in one `writev` when the kernel takes it all (it does for files).
    private func writeAll(_ fd: Int32, _ first: [UInt8], _ second: [UInt8]) -> Bool {
        let total = first.count + second.count
        let written: Int = first.withUnsafeBytes { a in
            second.withUnsafeBytes { b in
                var iov = [iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress), iov_len: a.count),
                           iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)]
                var n: Int
                repeat { n = writev(fd, &iov, 2) } while n < 0 && errno == EINTR
                return n
            }
        }
        if written == total { return true }
        if written < 0 { return false }
        // A short write (rare for a regular file): the rest one buffer at a time.
        if written < first.count {
            return first[written...].withUnsafeBytes { FileIO.writeAll(fd, $0) } && second.withUnsafeBytes { FileIO.writeAll(fd, $0) }
        }
        return second[(written - first.count)...].withUnsafeBytes { FileIO.writeAll(fd, $0) }
    }

    /// Reads and checks a record: its payload and the request metadata it was queued with.
    /// The header first, then metadata and payload straight into their own arrays (no copy of
    /// the whole file).
    func read(_ r: Record) throws -> (payload: [UInt8], metadata: [String: [String]]) {
        let p = path(r)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Corrupt(file: p, reason: "missing or unreadable: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Corrupt(file: p, reason: "unreadable: \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        let h: Header
        switch Self.parseHeader(Self.readAll(fd, count: min(16, size), at: 0)) {
        case .header(let parsed): h = parsed
        case .cutShort: throw Corrupt(file: p, reason: "not a queue record (too short)")
        case .notARecord: throw Corrupt(file: p, reason: "not a queue record (bad header)")
        }
        guard size == h.recordLength else {
            throw Corrupt(file: p, reason: "truncated record: header says \(h.metadataLength + h.payloadLength) bytes, file holds \(size - h.length)")
        }
        let meta = Self.readAll(fd, count: h.metadataLength, at: h.length)
        let payload = Self.readAll(fd, count: h.payloadLength, at: h.length + h.metadataLength)
        guard meta.count == h.metadataLength, payload.count == h.payloadLength else { throw Corrupt(file: p, reason: "unreadable: \(String(cString: strerror(errno)))") }
        guard Self.crc(payload, Self.crc(meta, 0)) == h.crc else { throw Corrupt(file: p, reason: "checksum mismatch") }
        guard let metadata = Self.decode(meta) else { throw Corrupt(file: p, reason: "unreadable request metadata") }
        return (payload, metadata)
    }

    /// Up to `count` bytes at `offset` (fewer at the end of the file or on an error).
    private static func readAll(_ fd: Int32, count: Int, at offset: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            while initialized < count {
                let n = pread(fd, buffer.baseAddress! + initialized, count - initialized, off_t(offset + initialized))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                initialized += n
            }
        }
    }

    private static func crc(_ bytes: [UInt8], _ start: UInt32) -> UInt32 {
        CRC32.checksum(bytes, continuing: start)
    }


    /// Metadata as length-prefixed strings: per key, the key, the number of values, the values.
    static func encode(_ metadata: [String: [String]]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, values) in metadata.sorted(by: { $0.key < $1.key }) {
            BigEndian.append(UInt32(key.utf8.count), to: &out)
            out += key.utf8
            BigEndian.append(UInt32(values.count), to: &out)
            for v in values {
                BigEndian.append(UInt32(v.utf8.count), to: &out)
                out += v.utf8
            }
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> [String: [String]]? {
        var i = 0
        func next() -> UInt32? {
            guard bytes.count - i >= 4 else { return nil }
            defer { i += 4 }
            return BigEndian.uint32(bytes, at: i)
        }
        func string() -> String? {
            guard let n = next().map(Int.init), bytes.count - i >= n else { return nil }
            defer { i += n }
            return String(decoding: bytes[i..<(i + n)], as: UTF8.self)
        }
        var out: [String: [String]] = [:]
        while i < bytes.count {
            guard let key = string(), let count = next(), Int(count) <= bytes.count else { return nil }
            var values: [String] = []
            for _ in 0..<count {
                guard let v = string() else { return nil }
                values.append(v)
            }
            out[key] = values
        }
        return out
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
