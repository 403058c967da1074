import Foundation
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

final class BatchProcessorTests: XCTestCase {
    actor Recorder: TraceConsumer {
        var batches: [Int] = []
        /// The request metadata each batch arrived with.
        var metadata: [[String: [String]]] = []
        var fail: (any Error)?
        func consume(_ data: consuming TraceData) async throws {
            if let fail { throw fail }
            batches.append(data.spanCount)
            metadata.append(RequestMetadata.current)
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

    func consume(_ p: BatchProcessor, _ spans: Int, tenant: String?) async throws {
        try await RequestMetadata.$current.withValue(tenant.map { ["x-scope-orgid": [$0], "user-agent": ["sdk"]] } ?? ["user-agent": ["sdk"]]) {
            try await p.consume(Self.data(spans))
        }
    }

    /// Each tenant's spans are batched on their own and go on with only the listed keys.
    func testMetadataKeysBatchEachTenantSeparately() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 5, timeout: 300ms, metadata_keys: [X-Scope-OrgID]}", next: rec)
        try await consume(p, 3, tenant: "a")
        try await consume(p, 3, tenant: "b")
        try await consume(p, 1, tenant: nil)
        try await consume(p, 2, tenant: "a")  // a reaches 5: sent at once, alone
        let first = await rec.batches
        let firstMetadata = await rec.metadata
        XCTAssertEqual(first, [5])
        XCTAssertEqual(firstMetadata, [["x-scope-orgid": ["a"]]], "only the metadata_keys go on")
        try await consume(p, 1, tenant: "")  // an empty value is not the same as no header
        try await Task.sleep(for: .milliseconds(600))
        let all = await rec.batches
        let metadata = await rec.metadata
        XCTAssertEqual(all.count, 4, "\(all)")
        var byTenant: [String: Int] = [:]
        for (n, m) in zip(all, metadata) { byTenant[m["x-scope-orgid"]?.first ?? "<none>", default: 0] += n }
        XCTAssertEqual(byTenant, ["a": 5, "b": 3, "<none>": 1, "": 1])
    }

    func testWithoutMetadataKeysBatchesCarryNoMetadata() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 4}", next: rec)
        try await consume(p, 2, tenant: "a")
        try await consume(p, 2, tenant: "b")
        let metadata = await rec.metadata
        XCTAssertEqual(metadata, [[:]], "one batch for both, with no request metadata, as in the collector")
    }

    func testMetadataCardinalityLimitRefusesNewCombinations() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 100, timeout: 1h, metadata_keys: [tenant], metadata_cardinality_limit: 2}", next: rec)
        for t in ["a", "b"] {
            try await RequestMetadata.$current.withValue(["tenant": [t]]) { try await p.consume(Self.data(1)) }
        }
        do {
            try await RequestMetadata.$current.withValue(["tenant": ["c"]]) { try await p.consume(Self.data(1)) }
            XCTFail("a third combination is refused")
        } catch PipelineError.permanent(let m) {
            XCTAssertTrue(m.contains("too many batcher metadata-value combinations"), m)
        }
        // Known combinations still batch; after a flush the combinations are free again.
        try await RequestMetadata.$current.withValue(["tenant": ["a"]]) { try await p.consume(Self.data(1)) }
        await p.shutdown()
        let batches = await rec.batches
        XCTAssertEqual(batches.sorted(), [1, 2])
    }

    func testConfigErrors() {
        XCTAssertThrowsError(try processor("{send_batch_size: 10, send_batch_max_size: 5}", next: Recorder())) { e in
            XCTAssertTrue("\(e)".contains("processors.batch.send_batch_max_size"), "\(e)")
        }
        XCTAssertThrowsError(try processor("{metadata_keys: [X-Scope-OrgID, x-scope-orgid]}", next: Recorder())) { e in
            XCTAssertTrue("\(e)".contains(#"processors.batch.metadata_keys: duplicate entry in metadata_keys: "x-scope-orgid" (case-insensitive)"#), "\(e)")
        }
    }
}
