import Foundation
import Logging
import NIOPosix
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// The tail-sampling journal of a durable pipeline: what it keeps, when segments go, how a
/// damaged segment is read back, and the processor deciding again what a crash left.
final class TailSamplingJournalTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-tsj-\(UUID())").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func segments(in directory: String? = nil) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory ?? dir)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
    }

    /// Where a processor of pipeline `traces` with `dir` as its storage keeps its journal.
    var journalDir: String { dir + "/processor_tail_sampling__traces" }

    /// A tail-sampling processor of a durable pipeline (`dir` as its file_storage), sampling
    /// everything after `decisionWait`, started. Start is retried while a processor dropped
    /// without shutdown (a "crash") still holds the journal's lock, a moment after its last
    /// reference went.
    func startedProcessor(decisionWait: String, next: any TraceConsumer) async throws -> TailSamplingProcessor {
        var storageConfig = FileStorageConfig()
        storageConfig.directory = dir
        storageConfig.createDirectory = true
        let storage = FileStorageExtension(config: storageConfig, context: ProcessorFixture.context("file_storage"))
        let host = ComponentHost(extensions: [ComponentID(type: "file_storage"): storage], status: ServiceStatus())
        try await storage.start(host)
        let config: TailSamplingConfig = try ProcessorFixture.config(
            "processors: {tail_sampling: {decision_wait: \(decisionWait), policies: [{name: all, type: always_sample}]}}", id: "tail_sampling")
        var context = ProcessorFixture.context("tail_sampling")
        context.pipeline = ComponentID(type: "traces")
        context.pipelineStorage = ComponentID(type: "file_storage")
        for _ in 0..<100 {
            let p = TailSamplingProcessor(config: config, context: context, next: next)
            do {
                try await p.start(host)
                return p
            } catch {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        throw TestHTTPClient.Failure(description: "the journal's lock was never released")
    }

    func testSegmentsGoOnceTheirTracesAreDecidedAndANewerSegmentTookOver() throws {
        let journal = try TailSamplingJournal(directory: dir, fsync: false, rotateAfter: .seconds(1))
        let t0 = ContinuousClock.now
        // Each append holds one reference for its caller: here it stands for the request's
        // waiting trace, or is given back at once (a request whose traces were decided).
        let first = try journal.append(TestData.request(trace: 1, spans: 2), now: t0)
        XCTAssertEqual(try journal.append(TestData.request(trace: 2, spans: 2), now: t0 + .milliseconds(500)), first)
        journal.release(first)
        let second = try journal.append(TestData.request(trace: 3, spans: 2), now: t0 + .seconds(2))
        journal.release(second)
        XCTAssertNotEqual(second, first, "rotated after a second")
        XCTAssertEqual(segments().count, 2, "the first is still referred to")
        journal.release(first)
        XCTAssertEqual(segments().count, 1)
        // A segment whose traces are all decided still waits for the older ones: its
        // decided-frames may name their traces.
        let third = try journal.append(TestData.request(trace: 4, spans: 1), now: t0 + .seconds(4))
        let fourth = try journal.append(TestData.request(trace: 5, spans: 1), now: t0 + .seconds(6))
        journal.release(try journal.append(TestData.request(trace: 6, spans: 1), now: t0 + .seconds(8)))
        XCTAssertEqual(segments().count, 3, "the third, the fourth and the current fifth")
        journal.release(fourth)
        XCTAssertEqual(segments().count, 3, "the fourth waits for the third")
        journal.release(third)
        XCTAssertEqual(segments().count, 1, "then all go, up to the current one")
        journal.close(discardAll: false)
        XCTAssertEqual(segments().count, 0, "the current segment goes at a clean shutdown when nothing refers to it")
    }

    /// A crash leaves a segment whose last frame is cut short and garbage behind it: the whole
    /// frames are read back, the rest is set aside with the offset where it starts.
    func testADamagedSegmentGivesBackItsWholeFrames() throws {
        do {
            let journal = try TailSamplingJournal(directory: dir, fsync: false, rotateAfter: .seconds(60))
            for t in 1...3 { _ = try journal.append(TestData.request(trace: UInt64(t), spans: 3), now: .now) }
            // No close: a crash.
        }
        let file = dir + "/" + segments()[0]
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
        XCTAssertEqual(truncate(file, off_t(size - 5)), 0)
        let journal = try TailSamplingJournal(directory: dir, fsync: false, rotateAfter: .seconds(60))
        let (recovered, damaged) = journal.recover()
        XCTAssertEqual(recovered.count, 1)
        XCTAssertEqual(recovered[0].requests.map(\.spanCount), [3, 3])
        XCTAssertEqual(damaged.count, 1)
        XCTAssertEqual(damaged[0].file, file)
        XCTAssertEqual(damaged[0].offset, 2 * (size / 3), "the third frame starts there")
        XCTAssertTrue(FileManager.default.fileExists(atPath: file + ".tail-\(damaged[0].offset).corrupt"))
        // New requests go to a new segment, numbered after the old one.
        let next = try journal.append(TestData.request(trace: 9, spans: 1), now: .now)
        XCTAssertEqual(next, recovered[0].number + 1)
    }

    /// A decided-frame makes a restart skip the spans of its traces journaled before it, not
    /// those journaled after (a trace that came back after its decision waits again).
    func testDecidedTracesAreNotReplayedButTheirLaterSpansAre() throws {
        do {
            let journal = try TailSamplingJournal(directory: dir, fsync: false, rotateAfter: .seconds(60))
            _ = try journal.append(TestData.request(trace: 1, spans: 3), now: .now)
            _ = try journal.append(TestData.request(trace: 2, spans: 2), now: .now)
            journal.appendDecided([TestData.request(trace: 1, spans: 1).resourceSpans[0].scopeSpans[0].spans[0].traceID], now: .now)
            _ = try journal.append(TestData.request(trace: 1, spans: 1), now: .now)
        }
        let journal = try TailSamplingJournal(directory: dir, fsync: false, rotateAfter: .seconds(60))
        let (recovered, damaged) = journal.recover()
        XCTAssertEqual(damaged.count, 0)
        let spans = recovered.flatMap(\.requests).flatMap { $0.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) } }
        XCTAssertEqual(spans.map { "\($0.traceID.low)/\($0.name)" }, ["2/op-0", "2/op-1", "1/op-0"])
    }

    /// A restart whose oldest recovered segment holds only decided traces deletes that one, and
    /// keeps the next, whose traces wait again (it was deleted with it, before being replayed).
    func testReplayKeepsTheSegmentsItStillNeeds() async throws {
        let trace1 = TestData.request(trace: 1, spans: 2), trace2 = TestData.request(trace: 2, spans: 2)
        let t0 = ContinuousClock.now
        do {
            let journal = try TailSamplingJournal(directory: journalDir, fsync: false, rotateAfter: .seconds(1))
            // Trace 1 waits (its segment is referred to), is decided and handed on; the crash
            // comes before its segment is released.
            journal.retain(try journal.append(trace1, now: t0))
            journal.appendDecided([trace1.resourceSpans[0].scopeSpans[0].spans[0].traceID], now: t0)
            journal.retain(try journal.append(trace2, now: t0 + .seconds(2)))
            // No close: a crash.
        }
        let p = try await startedProcessor(decisionWait: "10s", next: CollectingConsumer())
        XCTAssertEqual(segments(in: journalDir), [String(format: "%020d.seg", 2)], "the decided-only segment went, the waiting one stays")
        withExtendedLifetime(p) {}
    }

    /// Exporters that refuse for a while (a full queue): the sampled trace is held, not dropped;
    /// new data is refused meanwhile; once the exporters take it again the trace arrives and its
    /// journal segment goes.
    func testARefusedHandOverIsHeldAndPushesBack() async throws {
        actor Refusing: TraceConsumer {
            var refusals: Int
            var taken: [TraceData] = []
            init(refusals: Int) { self.refusals = refusals }
            func consume(_ data: consuming TraceData) async throws {
                if refusals > 0 {
                    refusals -= 1
                    throw PipelineError.refused("queue full", retryAfter: .seconds(1))
                }
                taken.append(data)
            }
            func stopRefusing() { refusals = 0 }
            var spans: Int { taken.reduce(0) { $0 + $1.spanCount } }
        }
        let next = Refusing(refusals: 1_000_000)
        let p = try await startedProcessor(decisionWait: "200ms", next: next)
        try await p.consume(TestData.request(trace: 1, spans: 3))
        try await Task.sleep(for: .milliseconds(500))
        do {
            try await p.consume(TestData.request(trace: 2, spans: 1))
            XCTFail("new data is refused while a hand-over is held")
        } catch PipelineError.refused {}
        await next.stopRefusing()
        var spans = 0
        for _ in 0..<40 where spans < 3 {
            try await Task.sleep(for: .milliseconds(50))
            spans = await next.spans
        }
        XCTAssertEqual(spans, 3, "the held trace arrives once the exporters take data again")
        try await p.consume(TestData.request(trace: 3, spans: 2))
        await p.shutdown()
        let taken = await next.spans
        XCTAssertEqual(taken, 5)
        XCTAssertEqual(segments(in: journalDir), [])
    }

    /// A processor of a durable pipeline that crashed with traces waiting: the next one decides
    /// them after decision_wait and hands them on, and then its journal is empty.
    func testTheNextStartDecidesWhatACrashLeft() async throws {
        do {
            let p = try await startedProcessor(decisionWait: "300ms", next: CollectingConsumer())
            try await p.consume(TestData.request(trace: 1, spans: 4))
            try await p.consume(TestData.request(trace: 2, spans: 2))
            // "kill -9": the processor is dropped without a shutdown.
        }
        XCTAssertFalse(segments(in: journalDir).isEmpty)

        let next = CollectingConsumer()
        let p = try await startedProcessor(decisionWait: "300ms", next: next)
        var spans = 0
        for _ in 0..<100 where spans < 6 {
            try await Task.sleep(for: .milliseconds(50))
            spans = await next.spans.count
        }
        XCTAssertEqual(spans, 6, "both traces decided again and handed on")
        await p.shutdown()
        XCTAssertEqual(segments(in: journalDir), [], "decided and handed on: nothing left to replay")
    }
}
