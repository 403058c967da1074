import Foundation
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

final class BatchProcessorTests: XCTestCase {
    actor Recorder: TraceConsumer {
        var batches: [Int] = []
        var fail: (any Error)?
        func consume(_ data: TraceData) async throws {
            if let fail { throw fail }
            batches.append(data.spanCount)
        }
        func setFail(_ e: (any Error)?) { fail = e }
    }

    func processor(_ yaml: String, next: any TraceConsumer) throws -> BatchProcessor {
        BatchProcessor(config: try ProcessorFixture.config("processors: {batch: \(yaml)}", id: "batch"),
                       context: ProcessorFixture.context("batch"), next: next)
    }

    static func data(_ spans: Int) -> TraceData {
        TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: Array(repeating: Span(name: "s"), count: spans))])])
    }

    func testFullBatchesGoAtOnceAndTheRestAfterTheTimeout() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 10, timeout: 300ms}", next: rec)
        for _ in 0..<5 { try await p.consume(Self.data(4)) }
        let full = await rec.batches
        XCTAssertEqual(full, [12], "sent as soon as it reached send_batch_size")
        try await Task.sleep(for: .milliseconds(100))
        let early = await rec.batches
        XCTAssertEqual(early, [12], "the rest waits for the timeout")
        try await Task.sleep(for: .milliseconds(400))
        let all = await rec.batches
        XCTAssertEqual(all, [12, 8])
    }

    func testLargeBatchesAreSplitAtTheMaxSize() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 5, send_batch_max_size: 7}", next: rec)
        try await p.consume(Self.data(20))
        let batches = await rec.batches
        XCTAssertEqual(batches, [7, 7, 6])
    }

    /// A refused batch is kept and offered again; meanwhile new data is refused (backpressure),
    /// and nothing that was accepted is lost.
    func testARefusedBatchIsKeptAndNewDataIsRefusedUntilItIsTaken() async throws {
        let rec = Recorder()
        await rec.setFail(PipelineError.refused("queue full", retryAfter: .seconds(1)))
        let p = try processor("{send_batch_size: 4, timeout: 1h}", next: rec)
        try await p.consume(Self.data(5))  // accepted: the batch is held, not lost
        do {
            try await p.consume(Self.data(1))
            XCTFail("new data is refused while a batch is held")
        } catch PipelineError.refused {}
        await rec.setFail(nil)
        try await Task.sleep(for: .milliseconds(500))  // the retrier hands the held batch on
        let delivered = await rec.batches
        XCTAssertEqual(delivered, [5])
        try await p.consume(Self.data(4))
        let after = await rec.batches
        XCTAssertEqual(after, [5, 4])
    }

    func testShutdownFlushes() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 100, timeout: 1h}", next: rec)
        try await p.consume(Self.data(3))
        await p.shutdown()
        let batches = await rec.batches
        XCTAssertEqual(batches, [3])
    }

    func testConfigErrors() {
        XCTAssertThrowsError(try processor("{send_batch_size: 10, send_batch_max_size: 5}", next: Recorder())) { e in
            XCTAssertTrue("\(e)".contains("processors.batch.send_batch_max_size"), "\(e)")
        }
    }
}
