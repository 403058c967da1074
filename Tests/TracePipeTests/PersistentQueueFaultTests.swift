import Foundation
import Logging
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// The persistent queue's own faults: damaged files found at start, a second process on the
/// same directory, writes that fail (disk full, directory gone or unwritable).
final class PersistentQueueFaultTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-qf-\(UUID())").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.removeItem(atPath: dir + ".moved")
    }

    func data(_ name: String, spans: Int = 1) -> TraceData {
        TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: (0..<spans).map { Span(name: "\(name)-\($0)") })])])
    }

    func names(_ item: QueueItem?) -> String? {
        item?.data.resourceSpans.first?.scopeSpans.first?.spans.first?.name
    }

    func size(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
    }

    /// A record cut short and one with a bad header are set aside whole; garbage after an intact
    /// record is moved aside and the record kept. Each is reported with its file and the offset
    /// where the damage starts; the good records are all recovered, in order.
    func testDamagedFilesAreFoundAtStartWithFileAndOffset() async throws {
        let store = try FileQueueStore(directory: dir, fsync: false)
        var records: [FileQueueStore.Record] = []
        for i in 1...5 {
            let metadata: [String: [String]] = i == 3 ? ["x-scope-orgid": ["tenant-a"]] : [:]
            records.append(try store.write(sequence: UInt64(i), spans: 1, payload: OTLPProtobufEncoder.encode(data("r\(i)")), metadata: metadata))
        }
        let cut = store.path(records[1]), garbage = store.path(records[2]), header = store.path(records[3])
        let fullSize = try size(cut)
        XCTAssertEqual(truncate(cut, off_t(fullSize / 2)), 0)
        let recordSize = try size(garbage)
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: garbage))
        h.seekToEndOfFile()
        h.write(Data("torn page \u{0}\u{1}\u{2}".utf8))
        h.closeFile()
        try Data("NOPE this is not a record".utf8).write(to: URL(fileURLWithPath: header))

        let (found, _, damaged) = store.scan()
        XCTAssertEqual(found.map(\.sequence), [1, 3, 5])
        XCTAssertEqual(damaged.count, 3, "\(damaged)")
        let byFile = Dictionary(uniqueKeysWithValues: damaged.map { ($0.file, $0) })
        XCTAssertEqual(byFile[cut]?.offset, fullSize / 2)
        XCTAssertEqual(byFile[cut]?.recordKept, false)
        XCTAssertTrue(byFile[cut]?.reason.contains("cut short") == true, "\(damaged)")
        XCTAssertEqual(byFile[garbage]?.offset, recordSize)
        XCTAssertEqual(byFile[garbage]?.bytes, 13)
        XCTAssertEqual(byFile[garbage]?.recordKept, true)
        XCTAssertEqual(byFile[header]?.offset, 0)
        XCTAssertEqual(try size(garbage), recordSize, "cut back to the record")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertTrue(left.contains((cut as NSString).lastPathComponent + ".corrupt"), "\(left)")
        XCTAssertTrue(left.contains((header as NSString).lastPathComponent + ".corrupt"), "\(left)")
        let aside = (garbage as NSString).lastPathComponent + ".tail-\(recordSize).corrupt"
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + aside)), Data("torn page \u{0}\u{1}\u{2}".utf8))

        // A second start finds nothing more to mend, and the queue sends the three good records.
        let queue = PersistentQueue(store: store, capacity: 100, sizer: .requests, logger: Logger(label: "test"))
        var got: [String] = []
        var metadata: [[String: [String]]] = []
        while let item = await queue.take(until: .now + .milliseconds(50)) {
            got.append(names(item) ?? "?")
            metadata.append(item.metadata)
            await queue.ack(item)
        }
        XCTAssertEqual(got, ["r1-0", "r3-0", "r5-0"])
        XCTAssertEqual(metadata[1], ["x-scope-orgid": ["tenant-a"]])
    }

    /// What the queue reports at start is counted in its exporter's series.
    func testDamageIsCounted() throws {
        let store = try FileQueueStore(directory: dir, fsync: false)
        let r = try store.write(sequence: 1, spans: 2, payload: OTLPProtobufEncoder.encode(data("a", spans: 2)))
        XCTAssertEqual(truncate(store.path(r), 5), 0)
        let telemetry = TelemetryRegistry()
        let counters = telemetry.exporter(ComponentID(type: "otlphttp"))
        _ = PersistentQueue(store: store, capacity: 10, sizer: .requests, logger: Logger(label: "test"), counters: counters)
        XCTAssertEqual(telemetry.sample("tracepipe_exporter_queue_damaged_records", [("exporter", "otlphttp")]), 1)
        XCTAssertEqual(telemetry.sample("tracepipe_exporter_queue_damaged_bytes", [("exporter", "otlphttp")]), 5)
    }

    /// A second store on a directory in use is refused with a message naming the directory and
    /// the holder; once the first lets go (shutdown, or its process died), it may start.
    func testASecondStoreOnTheSameDirectoryIsRefused() throws {
        let first = try FileQueueStore(directory: dir, fsync: false)
        XCTAssertThrowsError(try FileQueueStore(directory: dir, fsync: false)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(dir) && text.contains("in use by another tracepipe process") && text.contains("pid \(getpid())"), text)
        }
        first.lock.release()
        XCTAssertNoThrow(try FileQueueStore(directory: dir, fsync: false))
    }

    /// A write that fails (here: the directory replaced by a file, as an unwritable or vanished
    /// volume looks) is refused as a storage error and leaves what was queued untouched; once the
    /// directory is back, writes succeed and every record comes out in order. A directory
    /// removed outright is made again.
    func testFailedWritesLeaveTheQueueAsItWasAndRecover() async throws {
        let store = try FileQueueStore(directory: dir, fsync: true)
        let queue = PersistentQueue(store: store, capacity: 100, sizer: .items, logger: Logger(label: "test"))
        try await queue.offer(data("a", spans: 2), spans: 2, metadata: [:])
        try await queue.offer(data("b", spans: 3), spans: 3, metadata: [:])

        XCTAssertEqual(rename(dir, dir + ".moved"), 0)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir, contents: Data("not a directory".utf8)))
        do {
            try await queue.offer(data("lost", spans: 4), spans: 4, metadata: [:])
            XCTFail("the write must fail")
        } catch {
            guard case .storage(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("cannot create"), message)
        }
        let size = await queue.size
        XCTAssertEqual(size, 5, "a refused request takes no room")
        XCTAssertEqual(unlink(dir), 0)
        XCTAssertEqual(rename(dir + ".moved", dir), 0)
        try await queue.offer(data("c", spans: 1), spans: 1, metadata: [:])

        try FileManager.default.removeItem(atPath: dir)
        try await queue.offer(data("d", spans: 1), spans: 1, metadata: [:])
        var got: [String] = []
        while let item = await queue.take(until: .now + .milliseconds(50)) {
            got.append(names(item) ?? "?")
            await queue.ack(item)
        }
        // a, b and c were in the directory that was removed; d was written after it was made again.
        XCTAssertEqual(got, ["d-0"])
    }

    /// Records are checked with the standard CRC-32 whichever library computes it, so a queue
    /// written with libdeflate loaded reads back without it (and the other way round).
    func testRecordChecksumIsTheStandardCRC32() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum(Array("56789".utf8), continuing: CRC32.checksum(Array("1234".utf8))), 0xCBF4_3926)
    }

    /// The queue's size is kept as records come and go (it was summed over every record per offer).
    func testSizeFollowsOffersAndTakes() async throws {
        let store = try FileQueueStore(directory: dir, fsync: false)
        let queue = PersistentQueue(store: store, capacity: 10, sizer: .items, logger: Logger(label: "test"))
        try await queue.offer(data("a", spans: 4), spans: 4, metadata: [:])
        try await queue.offer(data("b", spans: 6), spans: 6, metadata: [:])
        do {
            try await queue.offer(data("c", spans: 1), spans: 1, metadata: [:])
            XCTFail("full at 10 items")
        } catch {}
        let taken = await queue.take()
        var size = await queue.size
        XCTAssertEqual(size, 6)
        await queue.ack(try XCTUnwrap(taken))
        try await queue.offer(data("c", spans: 4), spans: 4, metadata: [:])
        size = await queue.size
        XCTAssertEqual(size, 10)
        let again = PersistentQueue(store: store, capacity: 10, sizer: .items, logger: Logger(label: "test"))
        size = await again.size
        XCTAssertEqual(size, 10, "counted from the files at start")
    }
}
