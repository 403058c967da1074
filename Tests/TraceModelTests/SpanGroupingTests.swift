import TraceModel
import XCTest

final class SpanGroupingTests: XCTestCase {
    func span(_ trace: UInt64, _ n: UInt64) -> Span {
        Span(traceID: TraceID(high: 7, low: trace), spanID: SpanID(n), name: "span-\(trace)-\(n)-with-a-heap-name",
             attributes: [KeyValue("k", .string("value \(n) long enough for the heap"))])
    }

    func testGroupsInFirstAppearanceOrderKeepingSpanOrder() {
        let spans = [span(1, 1), span(2, 2), span(2, 3), span(1, 4), span(3, 5), span(2, 6)]
        let groups = spans.groupedByTrace()
        XCTAssertEqual(groups.map(\.id.low), [1, 2, 3])
        XCTAssertEqual(groups.map { $0.spans.map(\.spanID.value) }, [[1, 4], [2, 3, 6], [5]])
        XCTAssertEqual(groups[0].spans[0], span(1, 1), "moved whole, strings and attributes intact")
        // A shared array is copied before its spans are moved: the other reference is untouched.
        XCTAssertEqual(spans.map(\.spanID.value), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(spans[5], span(2, 6))
    }

    func testSingleTraceAndEmpty() {
        let one = [span(9, 1), span(9, 2)]
        let groups = one.groupedByTrace()
        XCTAssertEqual(groups.count, 1)
        XCTAssertEqual(groups[0].spans, one)
        XCTAssertTrue([Span]().groupedByTrace().isEmpty)
    }

    func testALargeUniquelyOwnedArrayIsMovedIntact() {
        var spans: [Span] = []
        for i in 0..<1000 { spans.append(span(UInt64(i % 7), UInt64(i))) }
        let groups = spans.groupedByTrace()   // last use: the array is moved from
        XCTAssertEqual(groups.count, 7)
        for g in groups {
            for s in g.spans { XCTAssertEqual(s, span(g.id.low, s.spanID.value)) }
        }
        XCTAssertEqual(groups.reduce(0) { $0 + $1.spans.count }, 1000)
    }
}
