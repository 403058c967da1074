import Foundation
import XCTest

@testable import TracePipe

/// The regex engine (`RegexParser`, `ByteRegex`, `PikeVM`, `RegexPattern`): the collector's
/// syntax and semantics (RE2's, as Go's regexp has them) on explicit cases, against a table of
/// RE2's own answers (`Fixtures/regex-cases.json`, made by scripts/gen-regex-cases.py with
/// Google's RE2), and the two matchers against each other.
final class ByteRegexTests: XCTestCase {
    /// First match of `pattern` in `text` as (whole, groups) substrings.
    func native(_ pattern: String, _ text: String) -> [String?]? {
        let re: ByteRegex
        do { re = try ByteRegex(pattern) } catch {
            XCTFail("\(error)")
            return nil
        }
        let bytes = Array(text.utf8)
        guard let slots = bytes.withUnsafeBufferPointer({ re.firstMatch(in: $0, from: 0) }) else { return nil }
        return Self.groups(slots, bytes)
    }

    /// The same, breadth-first (what texts too long for the backtracker's table get).
    func pike(_ pattern: String, _ text: String) -> [String?]? {
        guard let re = try? ByteRegex(pattern) else { return nil }
        let bytes = Array(text.utf8)
        guard let slots = bytes.withUnsafeBufferPointer({ PikeVM.firstMatch(re, in: $0, from: 0) }) else { return nil }
        return Self.groups(slots, bytes)
    }

    static func groups(_ slots: ByteRegex.Slots, _ bytes: [UInt8]) -> [String?] {
        stride(from: 0, to: slots.count, by: 2).map { k in
            slots[k] < 0 ? nil : String(decoding: bytes[slots[k]..<slots[k + 1]], as: UTF8.self)
        }
    }

    func testRE2Semantics() {
        XCTAssertEqual(native("a+?", "aaa"), ["a"], "lazy")
        XCTAssertEqual(native("a|ab", "ab"), ["a"], "leftmost-first, not leftmost-longest")
        XCTAssertEqual(native("(a|ab)(c|bcd)", "abcd"), ["abcd", "a", "bcd"])
        XCTAssertEqual(native("x*", "abc"), [""], "an empty match at the start")
        XCTAssertEqual(native("(?i)BeArEr\\s+(\\S+)", "auth: bearer abc.def"), ["bearer abc.def", "abc.def"])
        XCTAssertEqual(native("(?P<user>[^:]+):(?<pw>.+)", "bob:s3cr:et"), ["bob:s3cr:et", "bob", "s3cr:et"])
        XCTAssertEqual(native("\\bcat\\b", "concat cat"), ["cat"])
        XCTAssertNil(native("^b", "ab"))
        XCTAssertEqual(native("(?m)^b$", "a\nb\nc"), ["b"])
        XCTAssertNil(native("a$", "a\n"), "RE2: $ is the end of the text, not before a final newline")
        XCTAssertEqual(native("a.c", "a\u{e9}c"), ["a\u{e9}c"], ". is one whole scalar")
        XCTAssertNil(native("a.c", "a\nc"))
        XCTAssertEqual(native("(?s)a.c", "a\nc"), ["a\nc"])
        XCTAssertEqual(native("[^x]+", "\u{1F600}\u{e9}x"), ["\u{1F600}\u{e9}"], "negated classes take non-ASCII scalars")
        XCTAssertNil(native("\\w", "\u{e9}"), "RE2's \\w is ASCII")
        XCTAssertEqual(native("x{2,3}", "xxxxx"), ["xxx"])
        XCTAssertEqual(native("x{2,}?", "xxxxx"), ["xx"])
        XCTAssertEqual(native("a{,2}", "a{,2}"), ["a{,2}"], "a brace that is not a repetition is a literal")
        XCTAssertEqual(native("[a-c-]+", "-cab-d"), ["-cab-"])
        XCTAssertEqual(native("[]a]+", "a]]b"), ["a]]"])
        XCTAssertEqual(native("(?i)[a-c]+", "xAbC"), ["AbC"])
        XCTAssertEqual(native("((?i)a)a", "AA Aa"), ["Aa", "A"], "a flag set inside a group ends with it")
        XCTAssertEqual(native("(a*)*", "b")?.first, "", "an empty loop ends")
        // Pathological for a plain backtracker; linear here.
        let long = String(repeating: "a", count: 5000)
        XCTAssertNil(native("(a+)+b", long))
        XCTAssertNil(native("(x+x+)+y", String(repeating: "x", count: 3000)))
    }

    func testUnicodeAndGoSyntax() {
        XCTAssertEqual(native("\\p{L}+", "12 caf\u{e9} 3")?.first, "caf\u{e9}")
        XCTAssertEqual(native("\\pL+", "\u{3a3}\u{3c3}x1")?.first, "\u{3a3}\u{3c3}x")
        XCTAssertEqual(native("\\p{Greek}+", "abc \u{3b1}\u{3b2}\u{3b3} d")?.first, "\u{3b1}\u{3b2}\u{3b3}")
        XCTAssertEqual(native("\\P{Greek}+", "\u{3b1}ab\u{3b2}")?.first, "ab")
        XCTAssertEqual(native("[^\\p{L}]+", "ab12 \u{e9}")?.first, "12 ")
        XCTAssertEqual(native("(?i)k+", "kK\u{212a}x")?.first, "kK\u{212a}", "(?i) folds as Unicode does: the Kelvin sign is a K")
        XCTAssertEqual(native("(?i)\u{3c3}+", "\u{3a3}\u{3c2}\u{3c3}")?.first, "\u{3a3}\u{3c2}\u{3c3}")
        XCTAssertEqual(native("caf\u{e9}", "un caf\u{e9}")?.first, "caf\u{e9}")
        XCTAssertEqual(native("[\u{e0}-\u{ff}]+", "x\u{e9}\u{e8}y")?.first, "\u{e9}\u{e8}")
        XCTAssertEqual(native("[[:alpha:]]+", "12ab3")?.first, "ab")
        XCTAssertEqual(native("[[:^digit:]]+", "12ab3")?.first, "ab")
        XCTAssertEqual(native("\\Qa.b*\\E+", "a.b**")?.first, "a.b**", "quoted text is literal; + repeats its last character")
        XCTAssertEqual(native("(?U)a+", "aaa")?.first, "a", "(?U) makes repetition lazy")
        XCTAssertEqual(native("(?U)a+?", "aaa")?.first, "aaa", "and lazy repetition greedy")
        XCTAssertEqual(native("\\x{263a}|\\101", "xA\u{263a}")?.first, "A")
        XCTAssertEqual(native("\\_", "a_b")?.first, "_")
        XCTAssertEqual(native("^*a", "a")?.first, "a", "a repeated assertion is valid, as in Go")
        XCTAssertEqual(native("\\x{10FFFF}", "\u{10FFFF}")?.first, "\u{10FFFF}")
    }

    /// What Go rejects is rejected, with the reason, the fragment and where it is.
    func testInvalidPatternsSayWhatAndWhere() {
        for (pattern, message, fragment, offset) in [
            ("a(b", "missing closing )", "(b", 1),
            ("a)", "unexpected )", ")", 1),
            ("x**", "invalid nested repetition operator", "**", 1),
            ("*a", "missing argument to repetition operator", "*", 0),
            ("a{1001}", "invalid repeat count", "{1001}", 1),
            ("(a{100}){100}", "invalid repeat count", "{100}", 8),
            ("[z-a]", "invalid character class range", "z-a", 1),
            ("[a", "missing closing ]", "[a", 0),
            ("\\8", "invalid escape sequence", "\\8", 0),
            ("a\\C", "invalid escape sequence", "\\C", 1),
            ("(?=x)", "invalid or unsupported Perl syntax", "(?=", 0),
            ("(?<=x)", "invalid or unsupported Perl syntax (lookbehind)", "(?<=", 0),
            ("\\p{Klingon}", "invalid character class range", "\\p{Klingon}", 0),
            ("[[:foo:]]", "invalid character class range", "[:foo:]", 1),
            ("(?P<a-b>x)", "invalid named capture", "(?P<a-b>", 0),
        ] {
            XCTAssertThrowsError(try RegexPattern(pattern), pattern) { e in
                guard let e = e as? RegexSyntaxError else { return XCTFail("\(e)") }
                XCTAssertEqual(e.message, message, pattern)
                XCTAssertEqual(e.fragment, fragment, pattern)
                XCTAssertEqual(e.offset, offset, pattern)
                XCTAssertTrue(e.description.contains(message) && e.description.contains("offset \(offset)"), e.description)
            }
        }
    }

    /// Every case RE2 decided (see the fixture's generator): the same verdict on validity, and
    /// for valid patterns the same first match and groups, from the backtracker and the
    /// breadth-first matcher alike. Covers the whole syntax table, every pattern of the
    /// collector configs and conformance cases in ../shared and pipelines/, and random patterns.
    func testAgreesWithRE2OnTheCaseTable() throws {
        struct Table: Decodable {
            struct Case: Decodable {
                struct Match: Decodable {
                    var text: String
                    var groups: [String?]?
                }
                var source: String
                var pattern: String
                var valid: Bool
                var matches: [Match]?
            }
            var cases: [Case]
        }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/regex-cases.json")
        let table = try JSONDecoder().decode(Table.self, from: Data(contentsOf: url))
        XCTAssertGreaterThan(table.cases.count, 1500)
        XCTAssertGreaterThan(table.cases.filter { $0.source == "configs" }.count, 20)
        var compared = 0
        for c in table.cases {
            let compiled = Result { try RegexPattern(c.pattern) }
            if case .failure(let e) = compiled, c.valid { XCTFail("RE2 accepts \(c.pattern.debugDescription); we say \(e)"); continue }
            if case .success = compiled, !c.valid { XCTFail("RE2 rejects \(c.pattern.debugDescription); we accept it"); continue }
            for m in c.matches ?? [] {
                XCTAssertEqual(native(c.pattern, m.text), m.groups, "\(c.source) pattern \(c.pattern.debugDescription) text \(m.text.debugDescription)")
                XCTAssertEqual(pike(c.pattern, m.text), m.groups, "PikeVM: pattern \(c.pattern.debugDescription) text \(m.text.debugDescription)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 9000)
    }

    /// A text too long for the backtracker's state table is matched breadth-first, with the
    /// same answers (and in linear time on a pattern that is exponential for naive backtracking).
    func testLongTextsRunBreadthFirst() throws {
        let re = try RegexPattern("(?P<secret>x+x+)+y|b(?P<tail>c+)")
        let long = String(repeating: "x", count: 700_000) + "bccc"
        XCTAssertGreaterThan(re.native.program.count * (long.utf8.count + 1), ByteRegex.maxStates, "the table would be too large")
        let m = try XCTUnwrap(re.firstMatch(in: long))
        XCTAssertEqual(m.whole, 700_000..<700_004)
        XCTAssertEqual(m.group("tail"), 700_001..<700_004)
        XCTAssertEqual(re.allMatches(in: long + "bc").count, 2)
    }

    /// The patterns the scrub preset and common configs use compile.
    func testRealWorldPatternsAreNative() throws {
        let preset = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../pipelines/scrub-secrets.yaml"), encoding: .utf8)
        var patterns: [String] = []
        for line in preset.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("- '"), t.hasSuffix("'") { patterns.append(String(t.dropFirst(3).dropLast())) }
            if let r = t.range(of: "pattern: '") { patterns.append(String(t[r.upperBound...].prefix { $0 != "'" })) }
        }
        XCTAssertGreaterThanOrEqual(patterns.count, 7)
        patterns += [".*(metrics|prometheus|health)(/.*)?$", "^/api/v[0-9]+/.*", "(?i)^(GET|HEAD) /health", "^(?P<scheme>https?)://(?P<host>[^/]+)"]
        for p in patterns { XCTAssertNoThrow(try RegexPattern(p), p) }
    }

    /// The literal pre-check (eight bytes at a time) agrees with a plain search, at every offset
    /// and length, whichever byte it anchors on, with and without case folding, around non-ASCII
    /// bytes.
    func testLiteralPrecheckAgreesWithAPlainSearch() {
        var z: UInt64 = 7
        func rnd(_ n: Int) -> Int {
            z = z &* 6364136223846793005 &+ 1442695040888963407
            return Int((z >> 33) % UInt64(n))
        }
        let alphabet = Array("aAbB@`=:\u{e9}x".utf8)
        for _ in 0..<20000 {
            let text = (0..<rnd(40)).map { _ in alphabet[rnd(alphabet.count)] }
            let lit = (0..<(1 + rnd(3))).map { _ in alphabet[rnd(alphabet.count)] }.map { $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }
            for ci in [false, true] {
                let haystack = text.map { ci && $0 &- 0x41 < 26 ? $0 | 0x20 : $0 }
                let want = haystack.count >= lit.count && (0...(haystack.count - lit.count)).contains { Array(haystack[$0..<($0 + lit.count)]) == lit }
                // Whichever byte of the literal is searched for first.
                let anchor = rnd(lit.count)
                let got = text.withUnsafeBufferPointer { RegexPattern.contains($0, literal: lit, anchor: anchor, caseInsensitive: ci) }
                XCTAssertEqual(got, want, "text \(text) literal \(lit) anchor \(anchor) case-insensitive \(ci)")
            }
        }
    }

    /// The combined pre-check of a pattern list names exactly the patterns whose own literal
    /// check passes (plus those without literals).
    /// Both ways of finding anchor bytes are covered: the table walk (more than
    /// `fewAnchorLimit` distinct anchor bytes) and the vector compares (at most that many, texts
    /// of 16 bytes or more, the last block overlapping).
    func testPrefilterAgreesWithEachPatternsOwnCheck() throws {
        let manyAnchors = ["(?i)bearer\\s+\\S+", "eyJ[a-z]+\\.x", "://(?P<secret>[^@]+)@", "[0-9]+", "a=b", "(?i)TOKEN=", "x|y", "#", "%", "!", "~"]
        let fewAnchors = ["[a-z]+@[a-z]+", "(?i)xq", "[0-9]+"]
        var z: UInt64 = 3
        func rnd(_ n: Int) -> Int {
            z = z &* 6364136223846793005 &+ 1442695040888963407
            return Int((z >> 33) % UInt64(n))
        }
        let pieces = ["bearer ", "BEARER x", "eyJab.x", "://u:p@h", "a=b", "Token=", "1", "x", " ", "q", "XQ", "u@h", "padding-text-", "#", "%!", "~"]
        for sources in [manyAnchors, fewAnchors] {
            let patterns = try sources.map { try RegexPattern($0) }
            let prefilter = LiteralPrefilter(patterns)
            XCTAssertEqual(prefilter.usesVectorCompares, sources == fewAnchors, "\(sources)")
            for _ in 0..<3000 {
                let text = (0..<rnd(8)).map { _ in pieces[rnd(pieces.count)] }.joined()
                var want: UInt64 = 0
                for (k, p) in patterns.enumerated() where p.mayMatch(text) { want |= 1 << UInt64(k) }
                let got = Array(text.utf8).withUnsafeBufferPointer { prefilter.candidates($0) }
                XCTAssertEqual(got, want, "\(sources): \(text)")
            }
        }
    }
}

