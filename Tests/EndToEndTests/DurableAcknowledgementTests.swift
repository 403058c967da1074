import Foundation
import GRPCCore
import NIOConcurrencyHelpers
import TestSupport
import TraceModel
import XCTest

/// "Acknowledged is safe" with a persistent queue, against the real binary: a kill -9 loop with
/// `batch` in front and a flapping backend, a full or unwritable disk, damaged queue files, and
/// a second process on the same directory.
final class DurableAcknowledgementTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-durable-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    struct Ports {
        var otlp = TestHTTPClient.freePort()
        var grpc = TestHTTPClient.freePort()
        var health = TestHTTPClient.freePort()
    }

    /// otlp (HTTP and gRPC) → `processors` → otlphttp with its queue in `storage`.
    func writeConfig(_ name: String, ports: Ports, storage: String, tempo: Int, processors: String = "[batch]") throws -> String {
        let path = dir.appendingPathComponent(name).path
        try """
            extensions:
              health_check: {endpoint: "127.0.0.1:\(ports.health)"}
              file_storage: {directory: "\(storage)", create_directory: true}
            receivers:
              otlp: {protocols: {http: {endpoint: "127.0.0.1:\(ports.otlp)"}, grpc: {endpoint: "127.0.0.1:\(ports.grpc)"}}}
            processors:
              batch: {send_batch_size: 200, timeout: 200ms}
              tail_sampling: {decision_wait: 1s, policies: [{name: all, type: always_sample}]}
            exporters:
              otlphttp:
                endpoint: "http://127.0.0.1:\(tempo)"
                timeout: 2s
                retry_on_failure: {initial_interval: 50ms, max_interval: 500ms, max_elapsed_time: 0}
                sending_queue: {storage: file_storage, queue_size: 100000}
            service:
              extensions: [health_check, file_storage]
              pipelines: {traces: {receivers: [otlp], processors: \(processors), exporters: [otlphttp]}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func body(trace: UInt64, spans: Int = 10) -> [UInt8] {
        OTLPProtobufEncoder.encode(TestData.request(trace: trace, spans: spans))
    }

    static func post(_ port: Int, _ body: [UInt8]) -> Int? {
        try? TestHTTPClient.request(port: port, method: "POST", path: "/v1/traces",
                                    headers: ["Content-Type": "application/x-protobuf"], body: body).status
    }

    /// Sends requests of 10 spans one after another until stopped, and keeps the span ids of
    /// every request answered 200.
    final class SteadyClient: @unchecked Sendable {
        // Guarded by `lock`.
        private var acked = Set<SpanID>()
        private var requests = (acked: 0, refused: 0, failed: 0)
        private let lock = NIOLock()
        private let stopped = NIOLockedValueBox(false)
        private let done = DispatchSemaphore(value: 0)

        init(port: Int) {
            Thread.detachNewThread { [self] in
                var trace: UInt64 = 1
                while !stopped.withLockedValue({ $0 }) {
                    let body = DurableAcknowledgementTests.body(trace: trace)
                    let status = DurableAcknowledgementTests.post(port, body)
                    lock.withLock {
                        switch status {
                        case 200:
                            requests.acked += 1
                            for i in 0..<10 { acked.insert(SpanID(trace << 16 | UInt64(i + 1))) }
                        case .some: requests.refused += 1
                        case nil: requests.failed += 1
                        }
                    }
                    if status != 200 { Thread.sleep(forTimeInterval: 0.01) }
                    trace += 1
                }
                done.signal()
            }
        }

        func stop() -> (acked: Set<SpanID>, requests: (acked: Int, refused: Int, failed: Int)) {
            stopped.withLockedValue { $0 = true }
            done.wait()
            return lock.withLock { (acked, requests) }
        }
    }

    /// A backend on a fixed port that flaps: up, then answering 503 with Retry-After, then not
    /// listening at all (connections refused), over and over until told to stay up.
    final class FlappingTempo: @unchecked Sendable {
        let port: Int
        // Guarded by `lock`.
        private var instances: [FakeTempo] = []
        private var current: FakeTempo?
        private let lock = NIOLock()
        private let refusing = NIOLockedValueBox(false)
        private var flapper: Task<Void, Never>?

        init(port: Int) async throws {
            self.port = port
            try await up()
        }

        private func up() async throws {
            var lastError: (any Error)?
            for _ in 0..<50 {
                do {
                    let t = try await FakeTempo.start(port: port)
                    let refusing = self.refusing
                    t.script { _, _ in refusing.withLockedValue { $0 } ? .status(503, body: "overloaded", headers: [("Retry-After", "1")]) : .ok }
                    lock.withLock {
                        instances.append(t)
                        current = t
                    }
                    return
                } catch {
                    lastError = error
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            throw lastError!
        }

        private func down() async {
            let t = lock.withLock { () -> FakeTempo? in defer { current = nil }; return current }
            await t?.stop()
        }

        func startFlapping() {
            flapper = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(1200))
                    refusing.withLockedValue { $0 = true }
                    try? await Task.sleep(for: .milliseconds(800))
                    refusing.withLockedValue { $0 = false }
                    guard !Task.isCancelled else { break }
                    await down()
                    try? await Task.sleep(for: .milliseconds(800))
                    try? await up()
                }
            }
        }

        /// Stops flapping and stays up, answering 200.
        func settle() async throws {
            flapper?.cancel()
            await flapper?.value
            refusing.withLockedValue { $0 = false }
            if lock.withLock({ current == nil }) { try await up() }
        }

        /// Every span id received by any incarnation, with repeats.
        var spanIDs: [SpanID] { lock.withLock { instances }.flatMap { $0.spans.map(\.spanID) } }

        func stop() async {
            flapper?.cancel()
            await down()
        }
    }

    /// The issue's operator test: a client sending steadily, 20 SIGKILLs at random moments, a
    /// backend that flaps; `batch` in front of a persistent queue. Every span answered 200
    /// arrives; duplicates (at-least-once) are counted and reported.
    func testKillNineLoopLosesNothingAcknowledged() async throws {
        try await killLoop(processors: "[batch]")
    }

    /// The same with `tail_sampling` (sampling everything after 1 s) in front of the batch: the
    /// spans waiting for a decision are journaled, and a restart decides them.
    func testKillNineLoopWithTailSamplingLosesNothingAcknowledged() async throws {
        try await killLoop(processors: "[tail_sampling, batch]")
    }

    func killLoop(processors: String) async throws {
        let tempo = try await FlappingTempo(port: TestHTTPClient.freePort())
        let ports = Ports()
        let config = try writeConfig("kill.yaml", ports: ports, storage: dir.appendingPathComponent("storage").path, tempo: tempo.port,
                                     processors: processors)
        var tp = try TracePipeProcess(arguments: ["--config", config])
        try tp.waitHealthy(port: ports.health)
        XCTAssertTrue(tp.log.contains("durable pipeline"), tp.log)
        tempo.startFlapping()
        let client = SteadyClient(port: ports.otlp)
        var delays: [Int] = []
        for _ in 0..<20 {
            let ms = Int.random(in: 150...1200)
            delays.append(ms)
            try await Task.sleep(for: .milliseconds(ms))
            kill(tp.process.processIdentifier, SIGKILL)
            _ = tp.waitExit(timeout: 10)
            tp = try TracePipeProcess(arguments: ["--config", config])
            try tp.waitHealthy(port: ports.health)
        }
        try await Task.sleep(for: .milliseconds(500))
        let (acked, requests) = client.stop()
        try await tempo.settle()
        XCTAssertGreaterThan(requests.acked, 50, "the client got through between the kills")
        let arrived = await eventually(timeout: .seconds(60)) { Set(tempo.spanIDs).isSuperset(of: acked) }
        let received = tempo.spanIDs
        let missing = acked.subtracting(received)
        let duplicates = received.count - Set(received).count
        print("kill -9 loop, processors \(processors): kills after \(delays) ms; requests answered 200: \(requests.acked), refused: \(requests.refused), failed (no answer): \(requests.failed); acknowledged spans \(acked.count), missing \(missing.count), duplicates \(duplicates) (\(String(format: "%.2f", 100 * Double(duplicates) / Double(max(1, acked.count)))) %)")
        XCTAssertTrue(arrived && missing.isEmpty, "\(missing.count) acknowledged spans never arrived")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    /// Disk full (a 1 MiB tmpfs the test mounts, where it may) and a queue directory that cannot
    /// be written (replaced by a file): HTTP gets 503, gRPC UNAVAILABLE, health keeps answering,
    /// and once the space or the directory is back, requests are taken again. Nothing queued
    /// before is damaged: every acknowledged span arrives when the backend comes up.
    func testFullOrUnwritableStorageAnswers503AndRecovers() async throws {
        let mount = dir.appendingPathComponent("small").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]) == 0
        defer { if mounted { _ = Self.run("/bin/umount", ["-l", mount]) } }
        let storage = mounted ? mount : dir.appendingPathComponent("storage").path
        let tempoPort = TestHTTPClient.freePort()
        let ports = Ports()
        let config = try writeConfig("full.yaml", ports: ports, storage: storage, tempo: tempoPort)
        let tp = try TracePipeProcess(arguments: ["--config", config])
        try tp.waitHealthy(port: ports.health)
        var acked = Set<SpanID>()
        var trace: UInt64 = 1
        func send(expect: Int, _ why: String) {
            let status = Self.post(ports.otlp, Self.body(trace: trace))
            XCTAssertEqual(status, expect, why)
            if status == 200 { for i in 0..<10 { acked.insert(SpanID(trace << 16 | UInt64(i + 1))) } }
            trace += 1
        }
        for _ in 0..<5 { send(expect: 200, "room on disk") }
        let queueDir = storage + "/exporter_otlphttp__traces"

        if mounted {
            // Fill the file system to the last byte.
            let filler = mount + "/filler"
            let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
            let block = [UInt8](repeating: 0x5A, count: 4096)
            while write(fd, block, block.count) > 0 {}
            while write(fd, block, 1) > 0 {}
            close(fd)
            send(expect: 503, "disk full")
            let grpc = try await TestGRPCClient.export(Self.body(trace: 9999), port: ports.grpc)
            guard case .failure(let e) = grpc else { return XCTFail("gRPC accepted a request with the disk full") }
            XCTAssertEqual(e.code, .unavailable, "\(e)")
            XCTAssertEqual(try TestHTTPClient.request(port: ports.health).status, 200, "still serving")
            XCTAssertTrue(tp.log.contains("No space left on device"), tp.log)
            unlink(filler)
            send(expect: 200, "space is back")
        } else {
            print("disk-full part skipped: cannot mount a tmpfs here (mount needs root with CAP_SYS_ADMIN); the unwritable-directory part runs")
        }

        // The queue directory replaced by a file: nothing can be written there.
        XCTAssertEqual(rename(queueDir, queueDir + ".away"), 0)
        XCTAssertTrue(FileManager.default.createFile(atPath: queueDir, contents: Data("x".utf8)))
        send(expect: 503, "directory unwritable")
        XCTAssertEqual(try TestHTTPClient.request(port: ports.health).status, 200, "still serving")
        unlink(queueDir)
        XCTAssertEqual(rename(queueDir + ".away", queueDir), 0)
        send(expect: 200, "directory back")
        send(expect: 200, "directory back")

        let tempo = try await FakeTempo.start(port: tempoPort)
        let arrived = await tempo.wait(timeout: .seconds(30)) { Set($0.spans.map(\.spanID)).isSuperset(of: acked) }
        XCTAssertTrue(arrived, "missing \(acked.subtracting(tempo.spans.map(\.spanID)).count) of \(acked.count) acknowledged spans")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: queueDir)) ?? []
        XCTAssertFalse(left.contains { $0.hasSuffix(".corrupt") }, "nothing was damaged: \(left)")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    /// Queue files damaged while tracepipe was down (one cut short, one with garbage after the
    /// record): the next start recovers the intact records, names each damaged file with the
    /// offset, sets the damage aside and serves.
    func testDamagedQueueFilesAreSetAsideAtStart() async throws {
        let tempoPort = TestHTTPClient.freePort()
        let ports = Ports()
        let storage = dir.appendingPathComponent("storage").path
        let config = try writeConfig("torn.yaml", ports: ports, storage: storage, tempo: tempoPort, processors: "[]")
        var tp = try TracePipeProcess(arguments: ["--config", config])
        try tp.waitHealthy(port: ports.health)
        for trace in 1...5 { XCTAssertEqual(Self.post(ports.otlp, Self.body(trace: UInt64(trace))), 200) }
        kill(tp.process.processIdentifier, SIGKILL)
        _ = tp.waitExit()

        let queueDir = storage + "/exporter_otlphttp__traces"
        let records = try FileManager.default.contentsOfDirectory(atPath: queueDir).filter { $0.hasSuffix(".rec") }.sorted()
        XCTAssertEqual(records.count, 5, "\(records)")
        let cut = queueDir + "/" + records[1], garbage = queueDir + "/" + records[3]
        let cutSize = (try FileManager.default.attributesOfItem(atPath: cut)[.size] as! Int) / 2
        XCTAssertEqual(truncate(cut, off_t(cutSize)), 0)
        let garbageOffset = try FileManager.default.attributesOfItem(atPath: garbage)[.size] as! Int
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: garbage))
        h.seekToEndOfFile()
        h.write(Data(repeating: 0xFF, count: 100))
        h.closeFile()

        let tempo = try await FakeTempo.start(port: tempoPort)
        tp = try TracePipeProcess(arguments: ["--config", config])
        try tp.waitHealthy(port: ports.health)
        XCTAssertTrue(tp.log.contains(cut) && tp.log.contains(#""offset": "\#(cutSize)""#), tp.log)
        XCTAssertTrue(tp.log.contains(garbage) && tp.log.contains(#""offset": "\#(garbageOffset)""#), tp.log)
        // Traces 1, 3, 4 and 5 come through (4 without its garbage); trace 2 was cut.
        let expected = Set([1, 3, 4, 5].flatMap { t in (1...10).map { SpanID(UInt64(t) << 16 | UInt64($0)) } })
        let recovered = await tempo.wait(timeout: .seconds(20)) { Set($0.spans.map(\.spanID)).isSuperset(of: expected) }
        XCTAssertTrue(recovered, "intact records are sent")
        XCTAssertFalse(tempo.spans.contains { $0.traceID.low == 2 }, "the cut record is not sent")
        XCTAssertEqual(Self.post(ports.otlp, Self.body(trace: 6)), 200, "serves after the repair")
        let served = await tempo.wait(timeout: .seconds(20)) { $0.spans.contains { $0.spanID == SpanID(6 << 16 | 1) } }
        XCTAssertTrue(served)
        let left = try FileManager.default.contentsOfDirectory(atPath: queueDir)
        XCTAssertTrue(left.contains(records[1] + ".corrupt"), "\(left)")
        XCTAssertTrue(left.contains(records[3] + ".tail-\(garbageOffset).corrupt"), "\(left)")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    /// A second tracepipe on the same queue directory is refused at start, naming the directory
    /// and the process that holds it; the first keeps serving.
    func testASecondProcessOnTheSameQueueDirectoryIsRefused() throws {
        let storage = dir.appendingPathComponent("storage").path
        let first = Ports(), second = Ports()
        let tp = try TracePipeProcess(arguments: ["--config", try writeConfig("a.yaml", ports: first, storage: storage, tempo: 1)])
        try tp.waitHealthy(port: first.health)
        let other = try TracePipeProcess(arguments: ["--config", try writeConfig("b.yaml", ports: second, storage: storage, tempo: 1)])
        XCTAssertNotEqual(other.waitExit(timeout: 20), 0)
        XCTAssertTrue(other.log.contains("in use by another tracepipe process (pid \(tp.process.processIdentifier))"), other.log)
        XCTAssertEqual(Self.post(first.otlp, Self.body(trace: 1)), 200)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
    }

    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
