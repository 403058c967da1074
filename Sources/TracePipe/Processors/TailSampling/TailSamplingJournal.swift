import Foundation
import NIOConcurrencyHelpers
import Logging
import TraceModel

/// What tail sampling holds, on disk, in a durable pipeline: every request it takes is appended
/// to the current segment file before its client is answered, so a crash loses no span that
/// waits for a decision. A segment is deleted once every trace with spans in it was decided and
/// handed on (its reference count, kept by the processor, reached zero), a newer segment took
/// over, and every older segment is gone. At start the segments left by a crash are read back and their traces decided again.
///
/// A segment is `<number>.seg`, a sequence of frames: payload length (UInt32, big endian),
/// CRC-32 of the payload, the payload: a kind byte, then either a request (OTLP protobuf) or
/// the ids of traces just decided and handed on (16 bytes each). A decided-frame tells the next
/// start to skip those traces' spans journaled before it, so a restart re-sends only what was
/// in flight, not everything its segments still hold. A frame cut short or failing its checksum
/// ends the segment: the bytes from there are moved to `<file>.tail-<offset>.corrupt` and
/// logged with the file and offset; the frames before it are used.
///
/// Shared by the processor's shards: every call takes the journal's lock (appends are one
/// write each; the shards' retain and release calls are counter updates).
final class TailSamplingJournal: @unchecked Sendable {
    struct Damage: CustomStringConvertible {
        var file: String
        var offset: Int
        var bytes: Int
        var reason: String
        var description: String { "\(file) at offset \(offset): \(reason)" }
    }

    struct WriteFailed: Error, CustomStringConvertible {
        var file: String
        var reason: String
        var description: String { "cannot write the tail-sampling journal \(file): \(reason)" }
    }

    let directory: String
    let fsync: Bool
    /// A new segment is started once the current one is this old (or this big), so a segment's
    /// traces are all decided soon after and it can go.
    let rotateAfter: Duration
    static let rotateBytes = 64 << 20
    private let lock: DirectoryLock
    /// Guards everything below.
    private let mutex = NIOLock()
    private var current: (number: Int, fd: Int32, started: ContinuousClock.Instant, bytes: Int)?
    private var nextNumber: Int
    /// Traces (with spans in a segment) not yet decided and handed on, per segment.
    private var references: [Int: Int] = [:]

    init(directory: String, fsync: Bool, rotateAfter: Duration) throws {
        self.directory = directory
        self.fsync = fsync
        self.rotateAfter = rotateAfter
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        lock = try DirectoryLock(directory: directory)
        nextNumber = (Self.segmentNumbers(in: directory).last ?? 0) + 1
    }

    private static func segmentNumbers(in directory: String) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { $0.hasSuffix(".seg") ? Int($0.dropLast(4)) : nil }.sorted()
    }

    func path(_ number: Int) -> String { directory + "/" + String(format: "%020d.seg", number) }

    static let requestFrame: UInt8 = 1
    static let decidedFrame: UInt8 = 2

    /// The segments a previous run left, oldest first, with the spans each holds that were not
    /// decided and handed on before the crash, and the damage found (already set aside).
    func recover() -> (segments: [(number: Int, requests: [TraceData])], damaged: [Damage]) {
        mutex.withLock { recoverLocked() }
    }

    private func recoverLocked() -> (segments: [(number: Int, requests: [TraceData])], damaged: [Damage]) {
        var read: [(number: Int, requests: [(position: Int, data: TraceData)])] = []
        var damaged: [Damage] = []
        /// Per trace, the position of the last decided-frame naming it.
        var decidedAt: [TraceID: Int] = [:]
        var position = 0
        for number in Self.segmentNumbers(in: directory) where number != current?.number {
            let p = path(number)
            let bytes = (FileManager.default.contents(atPath: p)).map { [UInt8]($0) } ?? []
            var requests: [(Int, TraceData)] = []
            var offset = 0
            var problem: String?
            while offset < bytes.count {
                guard bytes.count - offset >= 8 else { problem = "a frame header cut short"; break }
                let length = Int(BigEndian.uint32(bytes, at: offset)), crc = BigEndian.uint32(bytes, at: offset + 4)
                guard length >= 1, bytes.count - offset - 8 >= length else { problem = "a frame cut short (\(length) bytes announced)"; break }
                let payload = bytes[(offset + 9)..<(offset + 8 + length)]
                guard CRC32.checksum(bytes[(offset + 8)..<(offset + 8 + length)]) == crc else { problem = "checksum mismatch"; break }
                position += 1
                switch bytes[offset + 8] {
                case Self.requestFrame:
                    guard let data = try? OTLPProtobufDecoder.decode(Array(payload)) else { problem = "an undecodable request"; break }
                    requests.append((position, data))
                case Self.decidedFrame where payload.count % 16 == 0:
                    var i = payload.startIndex
                    while i < payload.endIndex {
                        decidedAt[TraceID(high: BigEndian.uint64(bytes, at: i), low: BigEndian.uint64(bytes, at: i + 8))] = position
                        i += 16
                    }
                default:
                    problem = "an unknown frame"
                }
                if problem != nil { break }
                offset += 8 + length
            }
            if let problem {
                let tail = Array(bytes[offset...])
                let aside = FileIO.moveTailAside(of: p, tail: tail, at: offset)
                let moved = aside.map { "moved to \($0)" } ?? "cut off (they could not be copied aside)"
                damaged.append(Damage(file: p, offset: offset, bytes: tail.count, reason: "\(problem); \(tail.count) bytes \(moved)"))
            }
            references[number] = 0
            read.append((number, requests))
        }
        // A span journaled before a decided-frame naming its trace was handed on (or dropped by
        // its decision): only the others wait again.
        let segments = read.map { segment in
            (number: segment.number, requests: segment.requests.compactMap { r -> TraceData? in
                var data = r.data
                for i in data.resourceSpans.indices {
                    for j in data.resourceSpans[i].scopeSpans.indices {
                        data.resourceSpans[i].scopeSpans[j].spans.removeAll { (decidedAt[$0.traceID] ?? 0) > r.position }
                    }
                }
                return data.spanCount > 0 ? data : nil
            })
        }
        return (segments, damaged)
    }

    /// Appends a request to the current segment (starting a new one when it is due) and
    /// returns the segment's number, holding one reference to it for the caller: the caller
    /// releases it once every trace of the request retained the segment (else a rotation by a
    /// request of another shard in between could delete it). Throws when it cannot be written:
    /// the caller refuses the request, and the segment is cut back to what it held before.
    func append(_ data: TraceData, now: ContinuousClock.Instant) throws -> Int {
        try append(encoded: OTLPProtobufEncoder.encode(data), now: now)
    }

    /// As `append(_:now:)`, with the request already encoded (OTLP protobuf).
    func append(encoded body: [UInt8], now: ContinuousClock.Instant) throws -> Int {
        try mutex.withLock {
            let number = try write(kind: Self.requestFrame, body, now: now)
            references[number, default: 0] += 1
            return number
        }
    }

    /// Notes that these traces were decided and handed on (or dropped by their decision), so a
    /// restart does not send them again. Best effort: if it cannot be written, a restart may
    /// send them twice, nothing worse.
    func appendDecided(_ ids: [TraceID], now: ContinuousClock.Instant) {
        guard !ids.isEmpty else { return }
        var payload: [UInt8] = []
        payload.reserveCapacity(ids.count * 16)
        for id in ids {
            BigEndian.append(id.high, to: &payload)
            BigEndian.append(id.low, to: &payload)
        }
        mutex.withLock { _ = try? write(kind: Self.decidedFrame, payload, now: now) }
    }

    private func write(kind: UInt8, _ body: [UInt8], now: ContinuousClock.Instant) throws -> Int {
        if let c = current, now - c.started >= rotateAfter || c.bytes >= Self.rotateBytes { closeCurrent() }
        if current == nil { try openNext(now: now) }
        var c = current!
        // Length and checksum cover the kind byte and the body.
        var frame: [UInt8] = []
        frame.reserveCapacity(body.count + 9)
        BigEndian.append(UInt32(body.count + 1), to: &frame)
        BigEndian.append(UInt32(0), to: &frame)
        frame.append(kind)
        frame += body
        let crc = CRC32.checksum(frame[8...])
        withUnsafeBytes(of: crc.bigEndian) { frame.replaceSubrange(4..<8, with: $0) }
        var ok = frame.withUnsafeBytes { FileIO.writeAll(c.fd, $0) }
        if ok && fsync { ok = Foundation.fsync(c.fd) == 0 }
        guard ok else {
            let reason = String(cString: strerror(errno))
            _ = ftruncate(c.fd, off_t(c.bytes))
            throw WriteFailed(file: path(c.number), reason: reason)
        }
        c.bytes += frame.count
        current = c
        return c.number
    }

    private func openNext(now: ContinuousClock.Instant) throws {
        let number = nextNumber
        let p = path(number)
        let fd = FileIO.openCreating(p, in: directory, flags: O_WRONLY | O_TRUNC | O_APPEND)
        guard fd >= 0 else { throw WriteFailed(file: p, reason: String(cString: strerror(errno))) }
        nextNumber += 1
        references[number] = 0
        current = (number, fd, now, 0)
    }

    /// The current segment stops taking requests; it goes once nothing refers to it.
    private func closeCurrent() {
        guard let c = current else { return }
        Foundation.close(c.fd)
        current = nil
        deleteUnusedLocked()
    }

    /// A trace with spans in `segment` now waits for a decision.
    func retain(_ segment: Int) {
        mutex.withLock { references[segment, default: 0] += 1 }
    }

    /// A trace with spans in `segment` was decided and handed on (or dropped by its decision).
    func release(_ segment: Int) {
        mutex.withLock {
            guard let n = references[segment] else { return }
            references[segment] = n - 1
            if n == 1 { deleteUnusedLocked() }
        }
    }

    /// Deletes segments nothing refers to, oldest first, stopping at the first still needed:
    /// a segment's decided-frames name traces of older segments, so it must outlive them. (The
    /// processor also calls it once the recovered segments were replayed.)
    func deleteUnused() {
        mutex.withLock { deleteUnusedLocked() }
    }

    private func deleteUnusedLocked() {
        for number in references.keys.sorted() {
            guard number != current?.number, references[number] == 0 else { return }
            references[number] = nil
            unlink(path(number))
        }
    }

    deinit {
        if let c = current { Foundation.close(c.fd) }
    }

    /// At shutdown: the current segment is closed (and deleted when nothing refers to it);
    /// with `discardAll`, every segment goes (the pending traces were dropped on purpose).
    func close(discardAll: Bool) {
        mutex.withLock {
            closeCurrent()
            if discardAll {
                for number in Self.segmentNumbers(in: directory) { unlink(path(number)) }
                references = [:]
            }
            lock.release()
        }
    }
}
