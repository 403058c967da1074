import Foundation
import NIOPosix
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
        let loaded = try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: """
            receivers: {otlp: {protocols: {http: }}}
            processors:
              batch: \(yaml)
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], processors: [batch], exporters: [debug]}}}
            """)
        let config = loaded.processors[ComponentID(type: "batch")]!.config as! BatchProcessorConfig
        let context = ComponentContext(id: ComponentID(type: "batch"), kind: .processor, logger: .init(label: "t"),
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
        return BatchProcessor(config: config, context: context, next: next)
    }

    static func data(_ spans: Int) -> TraceData {
        TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: Array(repeating: Span(name: "s"), count: spans))])])
    }

    func testFullBatchesGoAtOnceAndTheRestAfterTheTimeout() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 10, timeout: 300ms}", next: rec)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<5 { g.addTask { try await p.consume(Self.data(4)) } }
            try await g.waitForAll()
        }
        let batches = await rec.batches
        XCTAssertEqual(batches.reduce(0, +), 20)
        XCTAssertTrue(batches.allSatisfy { $0 >= 10 } || batches.last! < 10, "\(batches)")
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))

        let lone = ContinuousClock.now
        try await p.consume(Self.data(1))
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - lone, .milliseconds(250), "a small batch waits for the timeout")
        let after = await rec.batches
        XCTAssertEqual(after.last, 1)
    }

    func testLargeBatchesAreSplitAtTheMaxSize() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 5, send_batch_max_size: 7}", next: rec)
        try await p.consume(Self.data(20))
        let batches = await rec.batches
        XCTAssertEqual(batches, [7, 7, 6])
    }

    func testEveryCallerInAFailedBatchGetsTheError() async throws {
        let rec = Recorder()
        await rec.setFail(PipelineError.refused("queue full", retryAfter: .seconds(1)))
        let p = try processor("{send_batch_size: 100, timeout: 50ms}", next: rec)
        var failures = 0
        await withTaskGroup(of: Bool.self) { g in
            for _ in 0..<3 {
                g.addTask {
                    do { try await p.consume(Self.data(2)); return false } catch { return true }
                }
            }
            for await failed in g where failed { failures += 1 }
        }
        XCTAssertEqual(failures, 3, "no caller is told 200 for spans that were not taken")
    }

    func testShutdownFlushes() async throws {
        let rec = Recorder()
        let p = try processor("{send_batch_size: 100, timeout: 1h}", next: rec)
        let payload = Self.data(3)
        let waiting = Task { [p] in try await p.consume(payload) }
        try await Task.sleep(for: .milliseconds(100))
        await p.shutdown()
        try await waiting.value
        let batches = await rec.batches
        XCTAssertEqual(batches, [3])
    }

    func testConfigErrors() {
        XCTAssertThrowsError(try processor("{send_batch_size: 10, send_batch_max_size: 5}", next: Recorder())) { e in
            XCTAssertTrue("\(e)".contains("processors.batch.send_batch_max_size"), "\(e)")
        }
    }
}
