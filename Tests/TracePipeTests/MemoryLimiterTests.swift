import Atomics
import Foundation
import NIOPosix
import TraceModel
import XCTest

@testable import TracePipe

final class MemoryLimiterTests: XCTestCase {
    final class Passed: TraceConsumer {
        let count = ManagedAtomic(0)
        func consume(_ data: consuming TraceData) async throws { count.wrappingIncrement(ordering: .relaxed) }
    }

    func testRefusesAboveTheSoftLimitAndRecovers() async throws {
        let loaded = try AttributesProcessorTests.load("""
            processors:
              memory_limiter: {check_interval: 1s, limit_mib: 100, spike_limit_mib: 20}
            """, pipelineProcessor: "memory_limiter")
        let config = loaded.processors[ComponentID(type: "memory_limiter")]!.config as! MemoryLimiterConfig
        let used = ManagedAtomic<UInt64>(50 << 20)
        let sink = Passed()
        let context = ComponentContext(id: ComponentID(type: "memory_limiter"), kind: .processor, logger: .init(label: "t"),
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
        let p = MemoryLimiterProcessor(config: config, context: context, next: sink) { used.load(ordering: .relaxed) }
        XCTAssertEqual(p.soft, 80 << 20)
        XCTAssertEqual(p.hard, 100 << 20)
        p.check()
        try await p.consume(TraceData())
        used.store(85 << 20, ordering: .relaxed)
        p.check()
        do {
            try await p.consume(TraceData())
            XCTFail("refused above the soft limit")
        } catch PipelineError.refused(_, let retryAfter) {
            XCTAssertEqual(retryAfter, .seconds(1))
        }
        used.store(60 << 20, ordering: .relaxed)
        p.check()
        try await p.consume(TraceData())
        XCTAssertEqual(sink.count.load(ordering: .relaxed), 2)
        XCTAssertGreaterThan(ProcessMemory.residentBytes(), 1 << 20, "reads this process's RSS")
        XCTAssertGreaterThan(ProcessMemory.availableBytes(), 1 << 26)
    }

    func testConfigErrors() {
        for (yaml, message) in [
            ("{limit_mib: 100}", "check_interval"),
            ("{check_interval: 1s}", "limit_mib"),
            ("{check_interval: 1s, limit_mib: 100, spike_limit_mib: 100}", "spike_limit_mib"),
        ] {
            XCTAssertThrowsError(try AttributesProcessorTests.load("processors: {memory_limiter: \(yaml)}", pipelineProcessor: "memory_limiter")) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
            }
        }
    }
}
