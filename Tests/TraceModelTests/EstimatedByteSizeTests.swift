import TraceModel
import XCTest

/// The queue's memory accounting: every part of the model is counted, by the documented rule
/// (fixed struct costs, plus the bytes of strings too long to be stored inline).
final class EstimatedByteSizeTests: XCTestCase {
    func testEveryPartIsCounted() {
        let span = Span(
            name: "GET /api/v1/payments/{id}",  // 25 bytes
            attributes: [
                KeyValue("http.request.header.x", .string("a-very-long-value-here")),  // 48 + (21 + 32) + (22 + 32)
                KeyValue("n", .int(5)),  // 48
                KeyValue("b", .bytes([1, 2, 3])),  // 48 + 3 + 32
                KeyValue("arr", .array([.string("x"), .string(String(repeating: "y", count: 20))])),  // 48 + 32 + 24 + (24 + 20 + 32)
                KeyValue("kv", .kvlist([KeyValue("k", .bool(true))])),  // 48 + 32 + 48
            ],
            events: [SpanEvent(name: "exception", attributes: [KeyValue("exception.message", .string("short"))])],
            links: [SpanLink(traceState: "k=v")],
            status: SpanStatus(code: .error, message: "boom")
        )
        let data = TraceData(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [KeyValue("service.name", .string("checkout"))]),
                scopeSpans: [ScopeSpans(scope: InstrumentationScope(name: "lib", version: "1.0"), spans: [span])]
            )
        ])
        let resource = 64 + 96 + 48
        let scope = 128 + 3 + 3
        let attributes = (48 + 53 + 54) + 48 + (48 + 35) + (48 + 32 + 24 + 76) + (48 + 32 + 48)
        let spanBytes = 232 + 25 + 4 + attributes
        let event = 64 + 9 + (48 + 17 + 32)
        let link = 80 + 3
        XCTAssertEqual(data.estimatedByteSize, resource + scope + spanBytes + event + link)
        // More spans cost more, in proportion.
        var twice = data
        twice.resourceSpans[0].scopeSpans[0].spans.append(span)
        XCTAssertEqual(twice.estimatedByteSize - data.estimatedByteSize, spanBytes + event + link)
    }
}
