@testable import TracePipe
import XCTest

final class HistogramTests: XCTestCase {
    func testBucketsAreCumulativeAndBoundsInclusive() {
        let h = Histogram(bounds: [1, 2.5, 10])
        for v in [0.5, 1, 2, 2.5, 3, 50] { h.record(v) }
        XCTAssertEqual(h.cumulative.map(\.le), ["1", "2.5", "10", "+Inf"])
        XCTAssertEqual(h.cumulative.map(\.count), [2, 4, 5, 6])
        XCTAssertEqual(h.count, 6)
        XCTAssertEqual(h.sum, 59, accuracy: 1e-9)
    }

    func testBatchSendSizeIsRendered() {
        let registry = TelemetryRegistry()
        let c = registry.batch(ComponentID(type: "batch", name: "t"))
        c.sendSize.record(8)
        c.sendSize.record(300)
        c.sizeTriggerSend.wrappingIncrement(ordering: .relaxed)
        let text = PrometheusMetrics.render(level: .normal, registry: registry, process: UnknownProcessStatistics())
        XCTAssertTrue(text.contains("# TYPE otelcol_processor_batch_batch_send_size histogram\n"), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_bucket{processor="batch/t",le="10"} 1"#), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_bucket{processor="batch/t",le="500"} 2"#), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_bucket{processor="batch/t",le="+Inf"} 2"#), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_send_size_count{processor="batch/t"} 2"#), text)
        XCTAssertTrue(text.contains(#"otelcol_processor_batch_batch_size_trigger_send{processor="batch/t"} 1"#), text)
        XCTAssertFalse(PrometheusMetrics.render(level: .basic, registry: registry, process: UnknownProcessStatistics()).contains("otelcol_processor_batch_"))
    }
}
