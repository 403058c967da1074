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

    /// A process whose resident memory the test sets, counting the heap releases it is asked for.
    final class FakeProcess: ProcessStatistics {
        let used = ManagedAtomic<UInt64>(50 << 20)
        let releases = ManagedAtomic(0)
        func residentBytes() -> UInt64 { used.load(ordering: .relaxed) }
        func heap() -> (inUse: UInt64, fromSystem: UInt64) { (0, 0) }
        func cpuSeconds() -> Double { 0 }
        func memoryLimitBytes() -> UInt64 { 1000 << 20 }
        func releaseFreeHeap() { releases.wrappingIncrement(ordering: .relaxed) }
    }

    func testRefusesAboveTheSoftLimitAndRecovers() async throws {
        let loaded = try AttributesProcessorTests.load("""
            processors:
              memory_limiter: {check_interval: 1s, limit_mib: 100, spike_limit_mib: 20}
            """, pipelineProcessor: "memory_limiter")
        let config = loaded.processors[ComponentID(type: "memory_limiter")]!.config as! MemoryLimiterConfig
        let process = FakeProcess()
        let used = process.used
        let sink = Passed()
        let context = ComponentContext(id: ComponentID(type: "memory_limiter"), kind: .processor, logger: .init(label: "t"),
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus(), process: process)
        let p = MemoryLimiterProcessor(config: config, context: context, next: sink)
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
        XCTAssertEqual(process.releases.load(ordering: .relaxed), 0, "no heap release below the hard limit")
        used.store(120 << 20, ordering: .relaxed)
        p.check()
        XCTAssertEqual(process.releases.load(ordering: .relaxed), 1, "above the hard limit the heap is released")
    }

    /// Percentages apply to the memory the process may use.
    func testPercentagesApplyToTheProcessLimit() throws {
        let loaded = try AttributesProcessorTests.load("""
            processors:
              memory_limiter: {check_interval: 1s, limit_percentage: 50, spike_limit_percentage: 10}
            """, pipelineProcessor: "memory_limiter")
        let config = loaded.processors[ComponentID(type: "memory_limiter")]!.config as! MemoryLimiterConfig
        let context = ComponentContext(id: ComponentID(type: "memory_limiter"), kind: .processor, logger: .init(label: "t"),
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus(), process: FakeProcess())
        let p = MemoryLimiterProcessor(config: config, context: context, next: Passed())
        XCTAssertEqual(p.hard, 500 << 20)
        XCTAssertEqual(p.soft, 400 << 20)
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
