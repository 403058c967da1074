import XCTest

@testable import TraceModel

/// The key-value fast path (ProtoReader+KeyValue) against the generic decode: every layout it
/// takes must give what the generic decode gives, and every layout it declines must still decode
/// (or fail) as before.
final class ProtoReaderTests: XCTestCase {
    private func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        return out + [UInt8(v)]
    }

    private func field(_ number: UInt64, _ bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(UInt64(bytes.count)) + bytes }

    /// A request of one span whose attributes are the given KeyValue message bodies.
    private func request(_ keyValues: [[UInt8]]) -> [UInt8] {
        var span = field(1, Array(repeating: 0xAB, count: 16)) + field(2, Array(repeating: 0xCD, count: 8))
        for kv in keyValues { span += field(9, kv) }
        return field(1, field(2, field(2, span)))
    }

    private func attributes(_ keyValues: [[UInt8]]) throws -> [KeyValue] {
        try OTLPProtobufDecoder.decode(request(keyValues)).resourceSpans[0].scopeSpans[0].spans[0].attributes
    }

    private func key(_ s: String) -> [UInt8] { field(1, Array(s.utf8)) }
    private func value(_ anyValue: [UInt8]) -> [UInt8] { field(2, anyValue) }

    func testEitherFieldOrderGivesTheSameAttribute() throws {
        let long = String(repeating: "SELECT id FROM orders WHERE status = 'PAID' ", count: 5)  // lengths over 127: two-byte varints
        let values: [([UInt8], AnyValue)] = [
            (field(1, Array("GET".utf8)), .string("GET")),
            (field(1, []), .string("")),
            (field(1, Array(long.utf8)), .string(long)),
            (field(1, Array("grüße".utf8)), .string("grüße")),
            ([0x10, 0x01], .bool(true)),
            ([0x10, 0x00], .bool(false)),
            ([0x18] + varint(200), .int(200)),
            ([0x18] + varint(UInt64(bitPattern: -5)), .int(-5)),  // ten bytes
            ([0x18] + varint(UInt64(bitPattern: Int64.min)), .int(.min)),
            ([0x21] + withUnsafeBytes(of: (2.5).bitPattern.littleEndian) { Array($0) }, .double(2.5)),
        ]
        for (anyValue, expected) in values {
            let want = [KeyValue("http.request.method", expected)]
            XCTAssertEqual(try attributes([key("http.request.method") + value(anyValue)]), want, "\(expected), key first")
            XCTAssertEqual(try attributes([value(anyValue) + key("http.request.method")]), want, "\(expected), value first")
        }
    }

    /// Layouts the fast path declines, decoded by the generic loop as OTLP says.
    func testOtherLayoutsStillDecode() throws {
        let get = value(field(1, Array("GET".utf8)))
        // A field given twice: the last wins.
        XCTAssertEqual(try attributes([key("a") + key("b") + get]), [KeyValue("b", .string("GET"))])
        // Two oneof members: the last wins.
        XCTAssertEqual(try attributes([key("a") + value(field(1, Array("x".utf8)) + [0x18, 0x07])]), [KeyValue("a", .int(7))])
        // An unknown field, no value, an empty value, no key.
        XCTAssertEqual(try attributes([key("a") + [0x18, 0x01] + get]), [KeyValue("a", .string("GET"))])
        XCTAssertEqual(try attributes([key("a")]), [KeyValue("a", .empty)])
        XCTAssertEqual(try attributes([key("a") + value([])]), [KeyValue("a", .empty)])
        XCTAssertEqual(try attributes([get]), [KeyValue("", .string("GET"))])
        // Bytes, arrays and lists.
        XCTAssertEqual(try attributes([key("b") + value(field(7, [1, 2]))]), [KeyValue("b", .bytes([1, 2]))])
        XCTAssertEqual(try attributes([key("l") + value(field(5, field(1, [0x18, 0x02])))]), [KeyValue("l", .array([.int(2)]))])
        // Attributes of both kinds in one list keep their order.
        XCTAssertEqual(try attributes([key("x") + get, key("y"), get + key("z")]),
                       [KeyValue("x", .string("GET")), KeyValue("y", .empty), KeyValue("z", .string("GET"))])
    }

    /// What the fast path declines because it is wrong fails as before, with the field's path.
    func testBadAttributesStillFailWithTheirPath() {
        func failure(_ kv: [UInt8]) -> String {
            do {
                _ = try attributes([key("ok") + value([0x10, 0x01]), kv])
                return "decoded"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(failure(field(1, [0x61, 0xFF]) + value([0x10, 0x01])).contains("attributes[1].key"), failure(field(1, [0x61, 0xFF])))
        XCTAssertTrue(failure(key("k") + value(field(1, [0xC3]))).contains("attributes[1].value.stringValue"), failure(key("k") + value(field(1, [0xC3]))))
        XCTAssertTrue(failure(key("k") + value([0x11, 0x01])).contains("attributes[1].value"), failure(key("k") + value([0x11, 0x01])))
        // An int varint of 11 bytes.
        let tooLong = key("k") + value([0x18] + Array(repeating: 0xFF, count: 10) + [0x01])
        XCTAssertTrue(failure(tooLong).contains("attributes[1].value: varint overflows"), failure(tooLong))
    }

    /// Lengths inside an attribute that run past its end (or the span's) are refused, not read past.
    func testLengthsPastTheirMessageAreRefused() {
        func span(_ bytes: [UInt8]) -> [UInt8] { field(1, field(2, field(2, bytes))) }
        let bad: [[UInt8]] = [
            [0x4A, 0x09] + key("k") + value([0x10, 0x01]),            // the KeyValue runs past the span
            field(9, [0x0A, 0x09, 0x6B] + value([0x10, 0x01])),       // the key runs past the KeyValue
            field(9, key("k") + [0x12, 0x06, 0x0A, 0x01, 0x61]),      // the value runs past the KeyValue
            field(9, key("k") + value([0x0A, 0x05, 0x61])),           // the string runs past the value
            field(9, key("k") + value([0x21, 0, 0, 0])),              // a double cut short
            field(9, key("k") + value([0x18, 0xFF])),                 // an int varint that never ends
        ]
        for (i, bytes) in bad.enumerated() {
            XCTAssertThrowsError(try OTLPProtobufDecoder.decode(span(bytes)), "case \(i)") { e in
                XCTAssertTrue("\(e)".contains("attributes[0]"), "case \(i): \(e)")
            }
        }
    }

    func testSpansBetweenOtherFieldsAllDecode() throws {
        let spans = (0..<40).map { Span(spanID: SpanID(UInt64($0 + 1)), name: "s\($0)") }
        var scope = ScopeSpans(spans: spans)
        scope.schemaURL = "https://opentelemetry.io/schemas/1.24.0"
        let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [scope])])
        XCTAssertEqual(try OTLPProtobufDecoder.decode(OTLPProtobufEncoder.encode(data)), data)
    }
}
