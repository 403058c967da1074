import Foundation
import XCTest

@testable import TracePipe

/// The native RE2 engine: RE2's semantics on explicit cases, and agreement with
/// NSRegularExpression (where RE2 and ICU agree) over seeded random patterns and texts.
final class ByteRegexTests: XCTestCase {
    /// First match of `pattern` in `text` as (whole, groups) substrings, natively.
    func native(_ pattern: String, _ text: String) -> [String?]? {
        guard let re = ByteRegex(pattern) else {
            XCTFail("not native: \(pattern)")
            return nil
        }
        var tooLarge = false
        let bytes = Array(text.utf8)
        guard let slots = bytes.withUnsafeBufferPointer({ re.firstMatch(in: $0, from: 0, tooLarge: &tooLarge) }) else { return nil }
        return stride(from: 0, to: slots.count, by: 2).map { k in
            slots[k] < 0 ? nil : String(decoding: bytes[slots[k]..<slots[k + 1]], as: UTF8.self)
        }
    }

    func icu(_ pattern: String, _ text: String) -> [String?]? {
        let re = try! NSRegularExpression(pattern: pattern)
        guard let m = re.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        return (0..<m.numberOfRanges).map { Range(m.range(at: $0), in: text).map { String(text[$0]) } }
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

    func testUnsupportedSyntaxFallsBack() throws {
        for p in ["\\p{L}+", "\\pL", "(?=a)", "[[:alpha:]]", "caf\u{e9}", "(?U)a+", "\\Qa.b\\E", "a**", "(a"] {
            XCTAssertNil(ByteRegex(p), p)
        }
        // The pattern still works, on NSRegularExpression.
        let p = try RegexPattern.re2("\\p{L}+")
        XCTAssertNil(p.native)
        XCTAssertEqual(p.firstMatch(in: "12 caf\u{e9} 3").map(\.whole), 3..<8)
    }

    /// Seeded random patterns and ASCII texts: native and ICU find the same first match and groups.
    /// Repeated sub-patterns that can match the empty string are left out: there Perl/ICU stop a
    /// loop after an empty iteration while RE2 and Go (and this engine) do not, and real patterns
    /// do not rely on either.
    func testAgreesWithNSRegularExpression() {
        var z: UInt64 = 0x5EED
        func rnd(_ n: Int) -> Int {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((x ^ (x >> 31)) % UInt64(n))
        }
        let atoms = ["a", "b", "c", ".", "[ab]", "[^a]", "\\d", "\\w", "\\s", "[a-c0-2]", "x", "\\.", "\\b", "-"]
        /// A pattern and whether it can match the empty string.
        func pattern(_ depth: Int) -> (String, nullable: Bool) {
            var out = ""
            var nullable = true
            for _ in 0..<(1 + rnd(3)) {
                var atom: String
                var atomNullable = false
                switch rnd(depth > 2 ? 8 : 10) {
                case 8:
                    let inner = pattern(depth + 1)
                    atom = "(" + inner.0 + ")"
                    atomNullable = inner.nullable
                case 9:
                    let a = pattern(depth + 1), b = pattern(depth + 1)
                    atom = "(?:" + a.0 + "|" + b.0 + ")"
                    atomNullable = a.nullable || b.nullable
                default:
                    atom = atoms[rnd(atoms.count)]
                    atomNullable = atom == "\\b"
                }
                if !atomNullable {
                    let q = ["", "", "", "*", "+", "?", "{1,2}", "*?", "+?", "{2}"][rnd(10)]
                    atom += q
                    if ["*", "?", "*?"].contains(q) { atomNullable = true }
                }
                nullable = nullable && atomNullable
                out += atom
            }
            return (out, nullable)
        }
        // Two non-ASCII symbols (not word characters in either engine) for the multi-byte paths.
        let alphabet = Array("aabbcx1 2.-_\n£→")
        var compared = 0
        for _ in 0..<3000 {
            var p = pattern(0).0
            if rnd(8) == 0 { p = "(?i)" + p.uppercased().replacingOccurrences(of: "\\D", with: "\\d").replacingOccurrences(of: "\\W", with: "\\w")
                .replacingOccurrences(of: "\\S", with: "\\s").replacingOccurrences(of: "\\B", with: "\\b").replacingOccurrences(of: "[^A]", with: "[^a]")
                .replacingOccurrences(of: "X", with: "x") }
            if rnd(10) == 0 { p = "^" + p }
            // Long enough that the start scan takes its eight-bytes-at-a-time path too.
            let text = String((0..<rnd(26)).map { _ in alphabet[rnd(alphabet.count)] })
            guard ByteRegex(p) != nil else { continue }
            XCTAssertEqual(native(p, text), icu(p, text), "pattern \(p) text \(text.debugDescription)")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 2500)
    }

    /// The patterns real configs and the scrub preset use all run natively.
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
        for p in patterns { XCTAssertNotNil(ByteRegex(p), p) }
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
            let patterns = try sources.map { try RegexPattern.re2($0) }
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

