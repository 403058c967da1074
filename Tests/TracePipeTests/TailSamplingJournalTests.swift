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

    func segments() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
    }

    func testSegmentsGoOnceTheirTracesAreDecidedAndANewerSegmentTookOver() throws {
        let journal = try TailSamplingJournal(directory: dir, fsync: false, rotateAfter: .seconds(1))
        let t0 = ContinuousClock.now
        let first = try journal.append(TestData.request(trace: 1, spans: 2), now: t0)
        journal.retain(first)
        XCTAssertEqual(try journal.append(TestData.request(trace: 2, spans: 2), now: t0 + .milliseconds(500)), first)
        let second = try journal.append(TestData.request(trace: 3, spans: 2), now: t0 + .seconds(2))
        XCTAssertNotEqual(second, first, "rotated after a second")
        XCTAssertEqual(segments().count, 2, "the first is still referred to")
        journal.release(first)
        XCTAssertEqual(segments().count, 1)
        // A segment whose traces are all decided still waits for the older ones: its
        // decided-frames may name their traces.
        let third = try journal.append(TestData.request(trace: 4, spans: 1), now: t0 + .seconds(4))
        journal.retain(third)
        let fourth = try journal.append(TestData.request(trace: 5, spans: 1), now: t0 + .seconds(6))
        journal.retain(fourth)
        _ = try journal.append(TestData.request(trace: 6, spans: 1), now: t0 + .seconds(8))
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
            let journal = try TailSamplingJournal(directory: dir + "/processor_tail_sampling__traces", fsync: false, rotateAfter: .seconds(1))
            // Trace 1 waits (its segment is referred to), is decided and handed on; the crash
            // comes before its segment is released.
            journal.retain(try journal.append(trace1, now: t0))
            journal.appendDecided([trace1.resourceSpans[0].scopeSpans[0].spans[0].traceID], now: t0)
            journal.retain(try journal.append(trace2, now: t0 + .seconds(2)))
            // No close: a crash.
        }
        let storage = FileStorageExtension(config: {
            var c = FileStorageConfig()
            c.directory = dir
            return c
        }(), context: ProcessorFixture.context("file_storage"))
        let host = ComponentHost(extensions: [ComponentID(type: "file_storage"): storage], status: ServiceStatus())
        try await storage.start(host)
        let config: TailSamplingConfig = try ProcessorFixture.config(
            "processors: {tail_sampling: {decision_wait: 10s, policies: [{name: all, type: always_sample}]}}", id: "tail_sampling")
        var context = ProcessorFixture.context("tail_sampling")
        context.pipeline = ComponentID(type: "traces")
        context.pipelineStorage = ComponentID(type: "file_storage")
        var p: TailSamplingProcessor?
        for _ in 0..<100 where p == nil {
            let candidate = TailSamplingProcessor(config: config, context: context, next: CollectingConsumer())
            do {
                try await candidate.start(host)
                p = candidate
            } catch {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/processor_tail_sampling__traces")) ?? [])
            .filter { $0.hasSuffix(".seg") }.sorted()
        XCTAssertEqual(left, [String(format: "%020d.seg", 2)], "the decided-only segment went, the waiting one stays")
        _ = p
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
        let storage = FileStorageExtension(config: {
            var c = FileStorageConfig()
            c.directory = dir
            c.createDirectory = true
            return c
        }(), context: ProcessorFixture.context("file_storage"))
        let host = ComponentHost(extensions: [ComponentID(type: "file_storage"): storage], status: ServiceStatus())
        try await storage.start(host)
        let config: TailSamplingConfig = try ProcessorFixture.config(
            "processors: {tail_sampling: {decision_wait: 200ms, policies: [{name: all, type: always_sample}]}}", id: "tail_sampling")
        var context = ProcessorFixture.context("tail_sampling")
        context.pipeline = ComponentID(type: "traces")
        context.pipelineStorage = ComponentID(type: "file_storage")
        let next = Refusing(refusals: 1_000_000)
        let p = TailSamplingProcessor(config: config, context: context, next: next)
        try await p.start(host)
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
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: dir + "/processor_tail_sampling__traces")) ?? []).filter { $0.hasSuffix(".seg") }
        XCTAssertEqual(left, [])
    }

    /// A processor of a durable pipeline that crashed with traces waiting: the next one decides
    /// them after decision_wait and hands them on, and then its journal is empty.
    func testTheNextStartDecidesWhatACrashLeft() async throws {
        let storage = FileStorageExtension(config: {
            var c = FileStorageConfig()
            c.directory = dir
            c.createDirectory = true
            return c
        }(), context: ProcessorFixture.context("file_storage"))
        let host = ComponentHost(extensions: [ComponentID(type: "file_storage"): storage], status: ServiceStatus())
        try await storage.start(host)
        let config: TailSamplingConfig = try ProcessorFixture.config(
            "processors: {tail_sampling: {decision_wait: 300ms, policies: [{name: all, type: always_sample}]}}", id: "tail_sampling")
        var context = ProcessorFixture.context("tail_sampling")
        context.pipeline = ComponentID(type: "traces")
        context.pipelineStorage = ComponentID(type: "file_storage")

        func started(_ next: CollectingConsumer) async throws -> TailSamplingProcessor {
            // The crashed processor's lock goes with it, a moment after its last reference.
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
        do {
            let p = try await started(CollectingConsumer())
            try await p.consume(TestData.request(trace: 1, spans: 4))
            try await p.consume(TestData.request(trace: 2, spans: 2))
            // "kill -9": the processor is dropped without a shutdown.
        }
        let journalDir = dir + "/processor_tail_sampling__traces"
        XCTAssertFalse(((try? FileManager.default.contentsOfDirectory(atPath: journalDir)) ?? []).filter { $0.hasSuffix(".seg") }.isEmpty)

        let next = CollectingConsumer()
        let p = try await started(next)
        var spans = 0
        for _ in 0..<100 where spans < 6 {
            try await Task.sleep(for: .milliseconds(50))
            spans = await next.spans.count
        }
        XCTAssertEqual(spans, 6, "both traces decided again and handed on")
        await p.shutdown()
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: journalDir)) ?? []).filter { $0.hasSuffix(".seg") }
        XCTAssertEqual(left, [], "decided and handed on: nothing left to replay")
    }
}
