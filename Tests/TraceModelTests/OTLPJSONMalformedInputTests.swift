import Foundation
import TraceModel
import XCTest

final class OTLPJSONMalformedInputTests: XCTestCase {
    static let valid = Array(#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},"scopeSpans":[{"scope":{"name":"lib","version":"1"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b175","name":"GET /","kind":2,"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,"attributes":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"},{"doubleValue":1.5},{"bytesValue":"aGk="},{"kvlistValue":{"values":[{"key":"x","value":{"boolValue":true}}]}}]}}}],"events":[{"timeUnixNano":"1","name":"e"}],"links":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}],"status":{"code":2,"message":"m"}}]}]}]}"#.utf8)

    func error(_ text: String) -> JSONDecodingError? {
        do {
            _ = try OTLPJSONDecoder.decode(text)
            return nil
        } catch {
            return error
        }
    }

    func testErrorsSayWhatAndWhere() throws {
        let e = try XCTUnwrap(error(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{"spanId":"abc"}]}]}]}"#))
        XCTAssertEqual(e.path, "resourceSpans[0].scopeSpans[0].spans[1].spanId")
        XCTAssertTrue(e.reason.contains("length mismatch"), e.reason)
        XCTAssertEqual(e.offset, 57, "the first character of the id")

        let hex = try XCTUnwrap(error(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc6zz"}]}]}]}"#))
        XCTAssertEqual(hex.path, "resourceSpans[0].scopeSpans[0].spans[0].traceId")
        XCTAssertTrue(hex.reason.contains("invalid hex digit 'z'"), hex.reason)

        let kind = try XCTUnwrap(error(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]}"#))
        XCTAssertEqual(kind.path, "resourceSpans[0].scopeSpans[0].spans[0].kind")

        let attr = try XCTUnwrap(error(#"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":1.5}}]}}]}"#))
        XCTAssertEqual(attr.path, "resourceSpans[0].resource.attributes[0].value.intValue")
        XCTAssertTrue(attr.description.contains("fractional"), attr.description)
    }

    func testWrongTypesAreRejected() {
        let bad = [
            #"[]"#,
            #""#,
            #"{"resourceSpans":{}}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"12x"}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":null}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"parentSpanId":null}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"flags":-1}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"boolValue":"true"}}]}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"bytesValue":"aGk"}}]}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"doubleValue":"abc"}}]}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"intValue":"9223372036854775808"}}]}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a\u12"}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a\q"}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"abc}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name" "x"}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x",}]}]}]}"#,
            #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"unknown":tru}]}]}]}"#,
        ]
        for text in bad {
            XCTAssertNotNil(error(text), "accepted: \(text)")
        }
    }

    func testInvalidUTF8IsRejected() {
        var body = Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"ab"}]}]}]}"#.utf8)
        let i = body.firstIndex(of: UInt8(ascii: "b"))!
        body[i] = 0xFF
        XCTAssertThrowsError(try OTLPJSONDecoder.decode(body)) { e in
            XCTAssertTrue("\(e)".contains("UTF-8"), "\(e)")
        }
        // A truncated multi-byte sequence in an escaped string too.
        var escaped = Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\n_"}]}]}]}"#.utf8)
        escaped[escaped.firstIndex(of: UInt8(ascii: "_"))!] = 0xC3
        XCTAssertThrowsError(try OTLPJSONDecoder.decode(escaped))
    }

    func testDeepNestingIsBoundedNotACrash() {
        let depth = 100_000
        var text = #"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":"#
        text += String(repeating: #"{"arrayValue":{"values":["#, count: depth)
        text += String(repeating: "]}}", count: depth)
        text += "}]}}]}"
        XCTAssertThrowsError(try OTLPJSONDecoder.decode(text)) { e in
            XCTAssertTrue("\(e)".contains("nesting"), "\(e)")
        }
        // Unknown fields are skipped with the same bound.
        let unknown = #"{"x":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        XCTAssertThrowsError(try OTLPJSONDecoder.decode(unknown))
    }

    func testEscapesDecode() throws {
        let data = try OTLPJSONDecoder.decode(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a\"b\\c\/d\n\u00e9\ud83d\ude00\ud800x"}]}]}]}"#)
        XCTAssertEqual(data.resourceSpans[0].scopeSpans[0].spans[0].name, "a\"b\\c/d\né😀\u{FFFD}x")
    }

    /// Property-style: every truncation and many random byte mutations of a valid body either
    /// decode or throw; none crashes or hangs.
    func testTruncationsAndMutationsNeverCrash() {
        let valid = Self.valid
        XCTAssertNoThrow(try OTLPJSONDecoder.decode(valid))
        var thrown = 0
        for n in 0..<valid.count {
            do { _ = try OTLPJSONDecoder.decode(Array(valid[0..<n])) } catch { thrown += 1 }
        }
        XCTAssertEqual(thrown, valid.count, "every strict prefix of the body is incomplete")
        var rng = SplitMix64(seed: 0x7EACE)
        let alphabet = Array(#"{}[]":,\ 0123456789-.eEtrufalsn"#.utf8) + [0x00, 0x80, 0xFF, 0xC3]
        for _ in 0..<20_000 {
            var body = valid
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(body.count))
                switch rng.next() % 3 {
                case 0: body[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: body.remove(at: i)
                default: body.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
            }
            _ = try? OTLPJSONDecoder.decode(body)
        }
    }
}

/// A small seeded generator so that property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
