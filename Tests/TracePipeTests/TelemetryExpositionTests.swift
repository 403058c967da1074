@testable import TracePipe
import XCTest

/// The own-metrics exposition: swift-prometheus instruments under the collector's names, labels
/// and levels.
final class TelemetryExpositionTests: XCTestCase {
    func testBatchSendSizeIsRenderedAtNormalLevel() {
        let registry = TelemetryRegistry(level: .normal)
        let c = registry.batch(ComponentID(type: "batch", name: "t"))
        c.sendSize.record(Double(8))
        c.sendSize.record(Double(300))
        c.sizeTriggerSend.increment()
        let text = registry.exposition(process: UnknownProcessStatistics())
        XCTAssertTrue(text.contains("# TYPE otelcol_processor_batch_batch_send_size histogram\n"), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_bucket{processor="batch/t",le="10.0"} 1"#), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_bucket{processor="batch/t",le="500.0"} 2"#), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_bucket{processor="batch/t",le="+Inf"} 2"#), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_count{processor="batch/t"} 2"#), text)
        XCTAssertEqual(registry.sample("otelcol_processor_batch_batch_size_trigger_send", [("processor", "batch/t")]), 1)
        let basic = TelemetryRegistry(level: .basic)
        basic.batch(ComponentID(type: "batch")).sizeTriggerSend.increment()
        XCTAssertFalse(basic.exposition(process: UnknownProcessStatistics()).contains("otelcol_processor_batch_"), "batch metrics are level normal")
    }

    /// Exporter series: a zero `reason="none"` failure series until the first failure, queue
    /// series only for exporters with a queue, and the totals the health check reads.
    func testExporterSeriesAndHealthFigures() {
        let registry = TelemetryRegistry()
        let e = registry.exporter(ComponentID(type: "otlphttp"))
        let failed = "otelcol_exporter_send_failed_spans"
        XCTAssertEqual(registry.sample(failed, [("exporter", "otlphttp"), ("reason", "none")]), 0)
        XCTAssertFalse(registry.exposition(process: UnknownProcessStatistics()).contains("otelcol_exporter_queue_size"))
        e.recordSent(10)
        e.addFailed(3, reason: "permanent")
        e.addFailed(2, reason: "permanent")
        e.setQueue(size: 4, capacity: 100)
        XCTAssertNil(registry.sample(failed, [("exporter", "otlphttp"), ("reason", "none")]))
        XCTAssertEqual(registry.sample(failed, [("exporter", "otlphttp"), ("reason", "permanent")]), 5)
        XCTAssertEqual(registry.sample("otelcol_exporter_sent_spans", [("exporter", "otlphttp")]), 10)
        XCTAssertEqual(registry.sample("otelcol_exporter_queue_size", [("exporter", "otlphttp"), ("data_type", "traces")]), 4)
        XCTAssertEqual(registry.sample("otelcol_exporter_queue_capacity", [("exporter", "otlphttp"), ("data_type", "traces")]), 100)
        XCTAssertEqual([e.sentSpans, e.failedSpansTotal, e.queueSize, e.queueCapacity], [10, 5, 4, 100])
    }

    /// Two services in one process keep their own counts (no process-wide registry).
    func testRegistriesAreSeparate() {
        let a = TelemetryRegistry(), b = TelemetryRegistry()
        a.receiver(ComponentID(type: "otlp"), transport: "http").accepted.increment(by: Int64(5))
        XCTAssertEqual(a.sample("otelcol_receiver_accepted_spans", [("receiver", "otlp"), ("transport", "http")]), 5)
        _ = b.receiver(ComponentID(type: "otlp"), transport: "http")
        XCTAssertEqual(b.sample("otelcol_receiver_accepted_spans", [("receiver", "otlp"), ("transport", "http")]), 0)
    }

    func testProcessFiguresComeFromTheGivenProcess() {
        struct Fixed: ProcessStatistics {
            func residentBytes() -> UInt64 { 42 << 20 }
            func heap() -> (inUse: UInt64, fromSystem: UInt64) { (7, 9) }
            func cpuSeconds() -> Double { 1.5 }
            func memoryLimitBytes() -> UInt64 { 0 }
            func releaseFreeHeap() {}
        }
        let registry = TelemetryRegistry(level: .basic)
        _ = registry.exposition(process: Fixed())
        XCTAssertEqual(registry.sample("otelcol_process_memory_rss"), Double(42 << 20))
        XCTAssertEqual(registry.sample("otelcol_process_cpu_seconds"), 1.5)
        _ = registry.exposition(process: Fixed())
        XCTAssertEqual(registry.sample("otelcol_process_cpu_seconds"), 1.5, "set to the reading, not added up")
        XCTAssertEqual(registry.sample("otelcol_process_runtime_heap_alloc_bytes"), 7)
    }
}
