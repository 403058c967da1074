import Foundation
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

final class RedactionProcessorTests: XCTestCase {
    static func processor(_ yaml: String, next: any TraceConsumer) throws -> SpanProcessor<RedactionProcessor> {
        let loaded = try AttributesProcessorTests.load(yaml, pipelineProcessor: "redaction")
        return ProcessorFixture.processor(RedactionProcessor(config: loaded.processors[ComponentID(type: "redaction")]!.config as! RedactionConfig), next: next)
    }

    /// `span` (alone in a request) after a redaction processor configured by `yaml`.
    static func scrubbed(_ span: Span, _ yaml: String) async throws -> Span {
        let sink = CollectingConsumer()
        try await processor(yaml, next: sink).consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [span])])]))
        return await sink.last.resourceSpans[0].scopeSpans[0].spans[0]
    }

    func testConformanceVectors() async throws {
        let dir = ComponentOutputTests.conformance.appendingPathComponent("redaction")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".config.yaml") }.sorted()
        XCTAssertEqual(names.count, 10)
        for name in names {
            let base = String(name.dropLast(".config.yaml".count))
            let sink = CollectingConsumer()
            let p = try Self.processor(try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8), next: sink)
            var input = Array(try Data(contentsOf: dir.appendingPathComponent("\(base).input.json")))
            if input.last == 0x0A { input.removeLast() }
            try await p.consume(try OTLPJSONDecoder.decode(input))
            let encoded = OTLPJSONEncoder.encode(await sink.last)
            let ours = try JSONSerialization.jsonObject(with: Data(encoded)) as? NSDictionary
            let theirs = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(base).expected.json"))) as? NSDictionary
            XCTAssertEqual(ours, theirs, "\(base): \(String(decoding: encoded, as: UTF8.self))")
        }
    }

    /// Patterns apply in order, each to what the ones before left: a later pattern sees (and
    /// may mask) an earlier pattern's hash.
    func testPatternsApplyInOrderToTheResultOfTheOnesBefore() async throws {
        let out = try await Self.scrubbed(Span(attributes: [KeyValue("a", .string("x secret-1 y"))]), """
            processors:
              redaction:
                allow_all_keys: true
                # The second needs an "a", which only the first one's hash brings.
                blocked_values: ["secret-[0-9]+", "[0-9a-f]*a[0-9a-f]*"]
                hash_function: sha1
            """)
        let once = Digest.hex(.sha1, of: "secret-1")
        XCTAssertEqual(out.attributes[attribute: "a"], .string("x \(Digest.hex(.sha1, of: once)) y"))
    }

    func testHashFunctionsEventsAndLinks() async throws {
        let span = Span(attributes: [KeyValue("a", .string("x secret-1 y"))],
                        events: [SpanEvent(name: "e", attributes: [KeyValue("b", .string("secret-22"))])],
                        links: [SpanLink(attributes: [KeyValue("c", .string("secret-333"))])])
        let out = try await Self.scrubbed(span, """
            processors:
              redaction:
                allow_all_keys: true
                blocked_values: ["secret-[0-9]+"]
                hash_function: sha1
            """)
        XCTAssertEqual(out.attributes[attribute: "a"], .string("x \(Digest.hex(.sha1, of: "secret-1")) y"))
        XCTAssertEqual(out.events[0].attributes[attribute: "b"], .string(Digest.hex(.sha1, of: "secret-22")))
        XCTAssertEqual(out.links[0].attributes[attribute: "c"], .string(Digest.hex(.sha1, of: "secret-333")))
    }

    /// A pattern that matches the empty string masks each empty match as Go's ReplaceAllString
    /// does, an empty value included.
    func testEmptyMatchesAndAnEmptyValue() async throws {
        let span = Span(attributes: [KeyValue("empty", .string("")), KeyValue("ab", .string("ab")), KeyValue("xx", .string("axxb"))])
        let out = try await Self.scrubbed(span, """
            processors:
              redaction:
                allow_all_keys: true
                blocked_values: ["x*"]
            """)
        XCTAssertEqual(out.attributes[attribute: "empty"], .string("****"))
        XCTAssertEqual(out.attributes[attribute: "ab"], .string("****a****b****"))
        XCTAssertEqual(out.attributes[attribute: "xx"], .string("****a****b****"))
    }

    /// Several matches in one value, only their `secret` groups masked; and the same in a value
    /// too long for the native engine's state table, which the fallback engine scrubs alike.
    func testSecretGroupsInShortAndVeryLongValues() async throws {
        let short = "/a?token=abc&x=1&sig=zz9"
        let filler = String(repeating: "x", count: 2_000_000)
        let long = "/a?token=abc&" + filler + "&sig=zz9"
        let span = Span(attributes: [KeyValue("short", .string(short)), KeyValue("long", .string(long)), KeyValue("plain", .string("/a?x=1"))])
        let out = try await Self.scrubbed(span, """
            processors:
              redaction:
                allow_all_keys: true
                blocked_values: ['[?&](?:token|sig)=(?P<secret>[^&]+)']
                summary: debug
            """)
        XCTAssertEqual(out.attributes[attribute: "short"], .string("/a?token=****&x=1&sig=****"))
        XCTAssertEqual(out.attributes[attribute: "long"], .string("/a?token=****&" + filler + "&sig=****"))
        XCTAssertEqual(out.attributes[attribute: "plain"], .string("/a?x=1"))
        XCTAssertEqual(out.attributes[attribute: "redaction.masked.keys"], .string("long,short"))
        XCTAssertEqual(out.attributes[attribute: "redaction.masked.count"], .int(2))
    }
}

extension RedactionProcessorTests {
    /// Values repeat across spans sharing storage (as decoded requests do) and are remembered as
    /// clean: a repeat is skipped, but a secret is masked wherever it appears (also after its key
    /// or a clean value came before), an allowed value is counted on every span, and more
    /// distinct values than the memo has slots change nothing.
    func testRepeatedValuesInOneRequest() async throws {
        let clean = "a clean value that lives on the heap"
        let allowed = "token=public-demo-token"
        var spans: [Span] = []
        for i in 0..<700 {
            spans.append(Span(attributes: [
                KeyValue("same", .string(clean)),
                KeyValue("unique", .string("distinct clean value number \(i)")),
                KeyValue("secret", .string(i % 2 == 0 ? clean : "token=s3cr3t-\(i)")),
                KeyValue("allowed", .string(allowed)),
            ]))
        }
        let sink = CollectingConsumer()
        try await Self.processor("""
            processors:
              redaction:
                allow_all_keys: true
                blocked_values: ['token=(?P<secret>[a-z0-9-]+)']
                allowed_values: ['public-demo']
                summary: info
            """, next: sink).consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: spans)])]))
        let out = await sink.last.resourceSpans[0].scopeSpans[0].spans
        XCTAssertEqual(out.count, 700)
        for (i, span) in out.enumerated() {
            XCTAssertEqual(span.attributes[attribute: "same"], .string(clean))
            XCTAssertEqual(span.attributes[attribute: "unique"], .string("distinct clean value number \(i)"))
            XCTAssertEqual(span.attributes[attribute: "secret"], .string(i % 2 == 0 ? clean : "token=****"), "span \(i)")
            XCTAssertEqual(span.attributes[attribute: "allowed"], .string(allowed))
            XCTAssertEqual(span.attributes[attribute: "redaction.allowed.count"], .int(1), "span \(i)")
            XCTAssertEqual(span.attributes[attribute: "redaction.masked.count"], i % 2 == 0 ? nil : .int(1), "span \(i)")
        }
    }

    /// The word-at-a-time digit count agrees with a byte loop, bytes above 0x7F whose low bits
    /// look like digits (0xB0–0xB9) included.
    func testDigitCountAgreesWithAByteLoop() {
        var z: UInt64 = 11
        let alphabet: [UInt8] = Array("0123456789/:@a ".utf8) + [0xB0, 0xB5, 0xB9, 0xBA, 0x2F, 0x3A, 0xFF, 0x80]
        func rnd(_ n: Int) -> Int {
            z = z &* 6364136223846793005 &+ 1442695040888963407
            return Int((z >> 33) % UInt64(n))
        }
        for _ in 0..<5000 {
            let text = (0..<rnd(50)).map { _ in alphabet[rnd(alphabet.count)] }
            let want = text.filter { $0 >= 0x30 && $0 <= 0x39 }.count
            XCTAssertEqual(text.withUnsafeBufferPointer { RedactionProcessor.digitCount($0) }, want, "\(text)")
        }
        // Long texts: the byte-lane sums are flushed every 255 words, before a lane overflows.
        for n in [2039, 2040, 2041, 2047, 4100, 10_000] {
            let digits = [UInt8](repeating: UInt8(ascii: "7"), count: n)
            XCTAssertEqual(digits.withUnsafeBufferPointer { RedactionProcessor.digitCount($0) }, n, "\(n) digits")
            let mixed = (0..<n).map { _ in alphabet[rnd(alphabet.count)] }
            XCTAssertEqual(mixed.withUnsafeBufferPointer { RedactionProcessor.digitCount($0) },
                           mixed.filter { $0 >= 0x30 && $0 <= 0x39 }.count, "\(n) mixed bytes")
        }
    }

    /// The literal pre-check must only ever name text that every match contains.
    func testRequiredLiteralsAreConservative() {
        let cases: [(String, String?)] = [
            (#"(?i)bearer\s+[A-Za-z0-9\-._~+/]+=*"#, "bearer"),
            (#"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"#, "eyJ"),
            (#"(?i)(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"#, "://"),
            (#"4[0-9]{12}(?:[0-9]{3})?"#, "4"),
            (#"^(b|bf|by)$"#, nil),
            (#"(?i)(password|passwd)"#, nil),
            ("foo|bar", nil),
            ("ab*", "a"),
            ("a?b", "b"),
            ("x{0,3}yz", "yz"),
            ("(ab)?c", "c"),
            ("(?=a|b)c", "c"),
            ("(?!secret)word", "word"),
            (#"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#, "@"),
        ]
        for (pattern, want) in cases {
            XCTAssertEqual(RegexPattern.requiredLiteral(pattern), want, pattern)
        }
        // Every top-level run is required, not only the longest.
        XCTAssertEqual(RegexPattern.requiredLiterals(#"://(?P<secret>[^/\s:@]+:[^/\s@]+)@"#), ["://", "@"])
        XCTAssertEqual(RegexPattern.requiredLiterals(#"ab?cd+e"#), ["cd", "a", "e"], "d+ may repeat: cd and e, not cde")
        let creds = try! RegexPattern(#"://(?P<secret>[^/\s:@]+:[^/\s@]+)@"#)
        XCTAssertFalse(creds.mayMatch("https://shop.example.com/a:b"), "no @: ruled out without running the pattern")
        XCTAssertTrue(creds.mayMatch("https://u:p@shop.example.com/"))
        // A flag group later in the pattern makes the pre-check case-insensitive.
        XCTAssertTrue(try! RegexPattern("x=(?i)secret").mayMatch("x=SECRET"))
        XCTAssertTrue(try! RegexPattern("x=(?i:secret)").matches("x=SeCrEt"))
        XCTAssertFalse(RegexPattern.hasCaseInsensitiveFlag("(?s)a(?-i)b\\(?i)"))
        let box = try! RegexPattern("(?i)bearer\\s+x")
        XCTAssertTrue(box.matches("Authorization: BEARER x"))
        XCTAssertFalse(box.mayMatch("no token here"))
        XCTAssertTrue(box.mayMatch("x bEaReR y"))
        XCTAssertFalse(box.mayMatch("bea"))
    }
}
