import XCTest

@testable import TraceModel

final class ProtoReaderTests: XCTestCase {
    private func count(_ bytes: [UInt8], field: UInt32) -> Int {
        bytes.withUnsafeBytes { ProtoReader($0).countLengthDelimited(field: field) }
    }

    func testCountsOnlyTheLengthDelimitedFieldAsked() {
        // field 2 "ab", field 1 varint 300, field 2 "", field 3 fixed64, field 4 fixed32, field 2 "c", field 2 as varint
        var bytes: [UInt8] = [0x12, 0x02, 0x61, 0x62]
        bytes += [0x08, 0xAC, 0x02]
        bytes += [0x12, 0x00]
        bytes += [0x19] + Array(repeating: 0, count: 8)
        bytes += [0x25, 0, 0, 0, 0]
        bytes += [0x12, 0x01, 0x63]
        bytes += [0x10, 0x05]
        XCTAssertEqual(count(bytes, field: 2), 3)
        XCTAssertEqual(count(bytes, field: 1), 0)
        XCTAssertEqual(count([], field: 2), 0)
    }

    func testStopsAtWhatItCannotStepOver() {
        let two: [UInt8] = [0x12, 0x01, 0x61, 0x12, 0x00]
        // A length running past the end, a varint that never ends, a group: counted up to there.
        XCTAssertEqual(count(two + [0x12, 0x05, 0x61], field: 2), 2)
        XCTAssertEqual(count(two + [0x08, 0xFF, 0xFF], field: 2), 2)
        XCTAssertEqual(count(two + [0x0B, 0x0C] + two, field: 2), 2)
        // A fixed field cut short ends the count without reading past the buffer.
        XCTAssertEqual(count(two + [0x19, 0x00], field: 2), 2)
    }

    func testSpansBetweenOtherFieldsAllDecode() throws {
        let spans = (0..<40).map { Span(spanID: SpanID(UInt64($0 + 1)), name: "s\($0)") }
        var scope = ScopeSpans(spans: spans)
        scope.schemaURL = "https://opentelemetry.io/schemas/1.24.0"
        let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [scope])])
        XCTAssertEqual(try OTLPProtobufDecoder.decode(OTLPProtobufEncoder.encode(data)), data)
    }
}
