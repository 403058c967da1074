import Foundation
@testable import TraceModel
import XCTest

final class OTLPProtobufTests: XCTestCase {
    func testEveryFieldRoundTrips() throws {
        let data = Fixtures.allFields
        let bytes = OTLPProtobufEncoder.encode(data)
        XCTAssertEqual(try OTLPProtobufDecoder.decode(bytes), data)
        // JSON and protobuf agree on the model.
        let viaJSON = try OTLPJSONDecoder.decode(OTLPJSONEncoder.encode(try OTLPProtobufDecoder.decode(bytes)))
        XCTAssertEqual(viaJSON, data)
    }

    /// Byte-for-byte the collector's marshalling (file exporter `format: proto` vector).
    func testBytesMatchTheCollector() throws {
        let dir = Fixtures.conformance.appendingPathComponent("file-exporter")
        let input = try OTLPJSONDecoder.decode(Fixtures.input(dir.appendingPathComponent("02-format-proto.input.json")))
        let expected = try Fixtures.read(dir.appendingPathComponent("02-format-proto.expected.bin"))
        let ours = OTLPProtobufEncoder.encode(input)
        let length = UInt32(ours.count).bigEndian
        let framed = withUnsafeBytes(of: length) { Array($0) } + ours
        XCTAssertEqual(framed.map { String(format: "%02x", $0) }.joined(), expected.map { String(format: "%02x", $0) }.joined())
    }

    /// A body a real client sent (recorded in the conformance vectors) decodes to what the collector exported.
    func testDecodesTheRecordedClientBody() throws {
        let dir = Fixtures.conformance.appendingPathComponent("otlp-http-errors")
        let body = try Fixtures.read(dir.appendingPathComponent("09-valid-protobuf-success.input.bin"))
        let decoded = try OTLPProtobufDecoder.decode(body)
        let exported = try Fixtures.canonical(Fixtures.read(dir.appendingPathComponent("09-valid-protobuf-success.exported.json")))
        XCTAssertEqual(try Fixtures.canonical(OTLPJSONEncoder.encode(decoded)), exported)
        XCTAssertThrowsError(try OTLPProtobufDecoder.decode(Fixtures.read(dir.appendingPathComponent("22-truncated-protobuf.input.bin"))))
        XCTAssertThrowsError(try OTLPProtobufDecoder.decode(Fixtures.input(dir.appendingPathComponent("24-json-body-with-protobuf-content-type.input.json"))))
        XCTAssertEqual(try OTLPProtobufDecoder.decode([]).spanCount, 0)
    }

    func testErrorsSayWhatAndWhere() {
        // resourceSpans[0].scopeSpans[0].spans[0] with a 3-byte trace id.
        let span: [UInt8] = [0x0A, 0x03, 1, 2, 3]
        let ss: [UInt8] = [0x12, UInt8(span.count)] + span
        let rs: [UInt8] = [0x12, UInt8(ss.count)] + ss
        let body: [UInt8] = [0x0A, UInt8(rs.count)] + rs
        XCTAssertThrowsError(try OTLPProtobufDecoder.decode(body)) { e in
            let err = e as! ProtobufDecodingError
            XCTAssertEqual(err.path, "resourceSpans[0].scopeSpans[0].spans[0].traceId")
            XCTAssertTrue(err.reason.contains("length mismatch"), err.reason)
        }
        // Wrong wire type for a known field.
        XCTAssertThrowsError(try OTLPProtobufDecoder.decode([0x08, 0x01])) { e in
            XCTAssertTrue("\(e)".contains("wrong wire type"), "\(e)")
        }
        // Invalid UTF-8 in a string.
        let name: [UInt8] = [0x2A, 0x02, 0xC3, 0x28]
        let ss2: [UInt8] = [0x12, UInt8(name.count)] + name
        let rs2: [UInt8] = [0x12, UInt8(ss2.count)] + ss2
        XCTAssertThrowsError(try OTLPProtobufDecoder.decode([0x0A, UInt8(rs2.count)] + rs2)) { e in
            XCTAssertTrue("\(e)".contains("UTF-8"), "\(e)")
        }
        // Illegal wire types, a length past the end, an endless varint.
        for bad: [UInt8] in [[0x0E], [0x0A, 0x05, 0x00], [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0x0B]] {
            XCTAssertThrowsError(try OTLPProtobufDecoder.decode(bad), "\(bad)")
        }
    }

    /// Attribute keys and values go through the decoder's string cache, which validates UTF-8
    /// only when it builds a string: every length class (compared as two words, compared in
    /// full, not cached) must decode non-ASCII text intact and refuse invalid bytes, also when
    /// they share their length and first and last eight bytes with a valid string just cached.
    func testCachedStringsAreValidatedAndIntact() throws {
        func request(_ values: [String]) -> [UInt8] {
            OTLPProtobufEncoder.encode(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [
                Span(name: "s", attributes: values.map { KeyValue("k", .string($0)) }),
            ])])]))
        }
        for n in [5, 16, 17, 40, 64, 65, 128, 129, 200] {
            let text = String(repeating: "a", count: n - 2) + "ü"
            let decoded = try OTLPProtobufDecoder.decode(request([text, text]))
            XCTAssertEqual(decoded.resourceSpans[0].scopeSpans[0].spans[0].attributes.map(\.value), [.string(text), .string(text)], "length \(n)")

            let ascii = Array(String(repeating: "b", count: n).utf8)
            var bad = request([String(decoding: ascii, as: UTF8.self), String(decoding: ascii, as: UTF8.self)])
            // Corrupt the second copy only (in the middle when it is long enough to keep the
            // first and last eight bytes): the first copy is in the cache when it is read.
            let second = bad.ranges(of: ascii).last!
            bad[second.lowerBound + (n >= 17 ? n / 2 : 0)] = 0xFF
            XCTAssertThrowsError(try OTLPProtobufDecoder.decode(bad), "length \(n)") { e in
                XCTAssertTrue("\(e)".contains("UTF-8"), "\(e)")
                XCTAssertTrue("\(e)".contains("attributes[1]"), "\(e)")
            }
        }
    }

    /// The string cache's tables outlive a request (the next decode reuses them): a later request
    /// must still get its own bytes, and invalid bytes in it must still be refused, when they share
    /// length and first and last words with a string an earlier request left in the cache.
    func testCacheKeptAcrossRequestsNeverReturnsAnEarlierRequestsString() throws {
        func request(_ value: [UInt8]) -> [UInt8] {
            var out = OTLPProtobufEncoder.encode(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [
                Span(name: "s", attributes: [KeyValue("k", .string(String(repeating: "x", count: value.count)))]),
            ])])]))
            let at = out.ranges(of: Array(repeating: UInt8(ascii: "x"), count: value.count)).last!
            out.replaceSubrange(at, with: value)
            return out
        }
        for n in [12, 40, 100] {
            let first = Array(("<" + String(repeating: "a", count: n - 2) + ">").utf8)
            var other = first
            other[n / 2] = UInt8(ascii: "b")
            var invalid = first
            invalid[n / 2] = 0xFF
            for _ in 0..<3 {
                let a = try OTLPProtobufDecoder.decode(request(first))
                XCTAssertEqual(a.resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value, AnyValue.string(String(decoding: first, as: UTF8.self)))
                let b = try OTLPProtobufDecoder.decode(request(other))
                XCTAssertEqual(b.resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value, AnyValue.string(String(decoding: other, as: UTF8.self)), "length \(n)")
                XCTAssertThrowsError(try OTLPProtobufDecoder.decode(request(invalid)), "length \(n)")
                // The JSON decoder shares the tables: what it caches is right for protobuf too.
                let json = Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s","attributes":[{"key":"k","value":{"stringValue":"\#(String(decoding: other, as: UTF8.self))"}}]}]}]}]}"#.utf8)
                XCTAssertEqual(try OTLPJSONDecoder.decode(json).resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value, .string(String(decoding: other, as: UTF8.self)))
            }
        }
    }

    /// Attribute fields in any order, repeated or mixed with unknown ones, decode as protobuf
    /// says: the last occurrence of a field (and of a oneof member) wins, unknown ones are skipped.
    func testAttributeFieldsInAnyOrder() throws {
        func ld(_ field: UInt8, _ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [field << 3 | 2]
            var n = bytes.count
            while n >= 0x80 { out.append(UInt8(n & 0x7F) | 0x80); n >>= 7 }
            return out + [UInt8(n)] + bytes
        }
        let str: (String) -> [UInt8] = { ld(1, Array($0.utf8)) }  // AnyValue.string_value
        let int: (UInt8) -> [UInt8] = { [3 << 3, $0] }               // AnyValue.int_value
        let unknown: [UInt8] = [15 << 3, 1]                          // varint field 15
        func attributes(_ kvs: [[UInt8]]) throws -> [KeyValue] {
            let span = kvs.reduce(ld(5, Array("s".utf8))) { $0 + ld(9, $1) }
            let data = try OTLPProtobufDecoder.decode(ld(1, ld(2, ld(2, span))))
            return data.resourceSpans[0].scopeSpans[0].spans[0].attributes
        }
        let kvs = try attributes([
            ld(1, Array("a".utf8)) + ld(2, str("x")),                              // the usual order
            ld(2, str("x")) + ld(1, Array("b".utf8)),                              // value first
            ld(1, Array("c".utf8)) + ld(2, str("x")) + ld(2, int(7)),              // value twice
            ld(1, Array("d".utf8)) + ld(2, str("x") + int(8)),                     // two members
            ld(1, Array("e".utf8)) + ld(2, unknown + str("y") + unknown),          // unknown around
            ld(1, Array("f".utf8)) + ld(2, unknown),                               // no member
            ld(1, Array("g".utf8)),                                                // no value
            ld(1, Array("h".utf8)) + ld(2, str("z")) + unknown + ld(1, Array("i".utf8)),  // key again
        ])
        XCTAssertEqual(kvs, [
            KeyValue("a", .string("x")), KeyValue("b", .string("x")), KeyValue("c", .int(7)), KeyValue("d", .int(8)),
            KeyValue("e", .string("y")), KeyValue("f", .empty), KeyValue("g", .empty), KeyValue("i", .string("z")),
        ])
    }

    func testUnknownFieldsAndGroupsAreSkipped() throws {
        // Field 99 varint, field 98 fixed64, field 97 bytes, field 96 fixed32, group 95 {field 1 varint}.
        var unknown: [UInt8] = [0x98, 0x06, 0x01]
        unknown += [0x91, 0x06] + Array(repeating: 0, count: 8)
        unknown += [0x8A, 0x06, 0x02, 0xAA, 0xBB]
        unknown += [0x85, 0x06, 0, 0, 0, 0]
        unknown += [0xFB, 0x05, 0x08, 0x01, 0xFC, 0x05]
        let span = OTLPProtobufEncoder.encode(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: "x")])])]))
        let decoded = try OTLPProtobufDecoder.decode(unknown + span)
        XCTAssertEqual(decoded.resourceSpans[0].scopeSpans[0].spans[0].name, "x")
    }

    func testDeepNestingIsBounded() {
        // An AnyValue of arrays nested 10,000 deep: refused, not a stack overflow.
        var value: [UInt8] = []
        for _ in 0..<10_000 {
            let inner: [UInt8] = value.isEmpty ? [] : [0x0A] + varint(value.count) + value
            value = [0x2A] + varint(inner.count) + inner
        }
        let kv: [UInt8] = [0x12] + varint(value.count) + value
        let resource: [UInt8] = [0x0A] + varint(kv.count) + kv
        let rs: [UInt8] = [0x0A] + varint(resource.count) + resource
        XCTAssertThrowsError(try OTLPProtobufDecoder.decode([0x0A] + varint(rs.count) + rs)) { e in
            XCTAssertTrue("\(e)".contains("nesting"), "\(e)")
        }
    }

    func testTruncationsAndMutationsNeverCrash() {
        let valid = OTLPProtobufEncoder.encode(Fixtures.allFields)
        for n in 0..<valid.count {
            _ = try? OTLPProtobufDecoder.decode(Array(valid[0..<n]))
        }
        var rng = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            var body = valid
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(body.count))
                switch rng.next() % 3 {
                case 0: body[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: body.remove(at: i)
                default: body.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                }
            }
            _ = try? OTLPProtobufDecoder.decode(body)
        }
    }

    private func varint(_ v: Int) -> [UInt8] {
        var out: [UInt8] = []
        var x = UInt64(v)
        while x >= 0x80 {
            out.append(UInt8(x & 0x7F) | 0x80)
            x >>= 7
        }
        out.append(UInt8(x))
        return out
    }
}

/// A piece of a partitioned request encoded in place is byte for byte the piece encoded.
final class SelectiveEncodingTests: XCTestCase {
    func testEncodingASelectionEqualsEncodingThePartitionedPiece() {
        var generator = SystemRandomNumberGenerator()
        var resources: [ResourceSpans] = []
        var n: UInt64 = 0
        for r in 0..<4 {
            var scopes: [ScopeSpans] = []
            for s in 0..<3 {
                let spans = (0..<((r + s) % 4)).map { _ -> Span in
                    n += 1
                    return Span(traceID: TraceID(high: 1, low: n), spanID: SpanID(n), name: "op-\(n)",
                                attributes: [KeyValue("k", .string("v\(n)"))])
                }
                scopes.append(ScopeSpans(scope: InstrumentationScope(name: "lib-\(s)", version: "1"), spans: spans, schemaURL: s == 1 ? "https://x/1" : ""))
            }
            resources.append(ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string("svc-\(r)"))]),
                                           scopeSpans: scopes, schemaURL: r == 2 ? "https://y/2" : ""))
        }
        let data = TraceData(resourceSpans: resources)
        let storage = ProtobufEncodeStorage()
        for _ in 0..<50 {
            let parts = Int.random(in: 2...4, using: &generator)
            let assignments = (0..<data.spanCount).map { _ in UInt16.random(in: 0..<UInt16(parts), using: &generator) }
            let pieces = data.partitioned(into: parts, assignments: assignments)
            for p in 0..<parts {
                let selection = SpanSelection(assignments: assignments, piece: UInt16(p))
                XCTAssertEqual(selection.spanCount, pieces[p].spanCount)
                let selected = OTLPProtobufEncoder.withEncoded(data, selecting: selection, reusing: storage) { Array($0) }
                XCTAssertEqual(selected, OTLPProtobufEncoder.encode(pieces[p]), "piece \(p) of \(assignments)")
            }
        }
    }
}

/// The size computed without encoding is the size the encoder writes.
final class ProtobufSizeTests: XCTestCase {
    func testSizeEqualsEncodedLength() throws {
        XCTAssertEqual(OTLPProtobufSize.request(Fixtures.allFields), OTLPProtobufEncoder.encode(Fixtures.allFields).count)
        XCTAssertEqual(OTLPProtobufSize.request(TraceData()), 0)
        // Every value kind, zero and non-zero scalars, long strings (two-byte lengths), flags.
        let values: [AnyValue] = [.empty, .string(""), .string(String(repeating: "x", count: 300)), .bool(false), .bool(true), .int(0), .int(-1),
                                  .int(1 << 40), .double(0), .double(2.5), .bytes([]), .bytes(Array(repeating: 7, count: 200)),
                                  .array([.int(1), .empty, .string("a")]), .kvlist([KeyValue("", .int(3)), KeyValue("k", .array([]))])]
        for (i, v) in values.enumerated() {
            var span = Span(traceID: i % 2 == 0 ? .zero : TraceID(high: 1, low: 2), spanID: SpanID(UInt64(i)), name: i % 3 == 0 ? "" : "op",
                            attributes: [KeyValue("key-\(i)", v)])
            span.flags = UInt32(i % 2) * 0x301
            span.kind = SpanKind(rawValue: Int32(i % 6) - 1)
            span.status = SpanStatus(code: StatusCode(rawValue: Int32(i % 3)), message: i % 2 == 0 ? "" : "failed")
            span.events = i % 4 == 0 ? [] : [SpanEvent(timeUnixNano: UInt64(i), name: "e", attributes: [KeyValue("v", v)])]
            span.links = i % 5 == 0 ? [] : [SpanLink(traceID: TraceID(high: 0, low: 9), spanID: .zero, traceState: "a=b", attributes: [KeyValue("v", v)], flags: UInt32(i % 2))]
            span.droppedEventsCount = UInt32(i % 2) * 300
            let scope = InstrumentationScope(name: "lib", version: i % 2 == 0 ? "" : "1.0", attributes: [KeyValue("s", v)])
            let resource = Resource(attributes: [KeyValue("service.name", v)])
            let data = TraceData(resourceSpans: [ResourceSpans(resource: resource, scopeSpans: [ScopeSpans(scope: scope, spans: [span, span], schemaURL: "u")],
                                                               schemaURL: i % 2 == 0 ? "" : "https://schema")])
            XCTAssertEqual(OTLPProtobufSize.request(data), OTLPProtobufEncoder.encode(data).count, "value \(v)")
            // One ResourceSpans: the request is that message behind a tag and its length.
            let rs = OTLPProtobufSize.resourceSpans(resource, schemaURL: data.resourceSpans[0].schemaURL, scope: scope, scopeSchemaURL: "u", spans: [span, span])
            XCTAssertEqual(1 + ProtoWire.varintSize(UInt64(rs)) + rs, OTLPProtobufEncoder.encode(data).count)
        }
    }
}
