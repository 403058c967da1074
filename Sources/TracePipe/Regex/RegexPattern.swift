#if canImport(Glibc)
import Glibc
#endif

/// A compiled collector pattern (RE2 syntax, as Go's regexp takes it) that may be shared across
/// tasks: the one engine is `ByteRegex` (and its `PikeVM` for long texts). A cheap pre-check
/// comes first: literals the pattern cannot match without, so most strings never reach it.
final class RegexPattern: Sendable {
    let pattern: String
    let native: ByteRegex
    /// UTF-8 of substrings every match contains, longest first (lower-cased when the pattern is
    /// case-insensitive anywhere).
    let requiredLiterals: [[UInt8]]
    /// For each required literal, the position of its least common byte: the one searched for.
    let literalAnchors: [Int]
    let caseInsensitive: Bool
    /// The number of the group named `secret`, when there is one: then only that group is masked.
    let secretGroup: Int?

    /// Compiles `pattern`, or throws what is wrong with it and where.
    init(_ pattern: String) throws(RegexSyntaxError) {
        self.pattern = pattern
        native = try ByteRegex(pattern)
        // An `i` flag anywhere makes the whole pre-check case-insensitive (a superset: safe).
        let insensitive = Self.hasCaseInsensitiveFlag(pattern)
        caseInsensitive = insensitive
        // Only ASCII literals: case-folding other scripts is not a byte comparison. Under `(?i)`
        // `k` and `s` also match the Kelvin sign and long s, which a byte search would miss.
        requiredLiterals = Self.requiredLiterals(pattern).compactMap { lit in
            guard lit.unicodeScalars.allSatisfy(\.isASCII) else { return nil }
            if insensitive && lit.lowercased().contains(where: { $0 == "k" || $0 == "s" }) { return nil }
            return Array((insensitive ? lit.lowercased() : lit).utf8)
        }
        literalAnchors = requiredLiterals.map { Self.anchor(of: $0) }
        secretGroup = native.groupNames.first { $0.name == "secret" }?.index
    }

    var hasSecretGroup: Bool { secretGroup != nil }

    /// Whether `s` might match: false when a required literal is absent. Byte searches, ASCII
    /// case-folded for case-insensitive patterns, with no allocation.
    @inline(__always)
    func mayMatch(_ s: String) -> Bool {
        guard !requiredLiterals.isEmpty else { return true }
        return Self.withUTF8(s) { mayMatch(utf8: $0) }
    }

    @inline(__always)
    func mayMatch(utf8 h: UnsafeBufferPointer<UInt8>) -> Bool {
        for (k, lit) in requiredLiterals.enumerated() where !Self.contains(h, literal: lit, anchor: literalAnchors[k], caseInsensitive: caseInsensitive) {
            return false
        }
        return true
    }

    /// The position in `lit` of the byte least common in attribute values (a rough ranking:
    /// spaces, URL punctuation and frequent lower-case letters are everywhere; upper-case letters
    /// and other punctuation are rare), so that the search stops at few false candidates.
    static func anchor(of lit: [UInt8]) -> Int {
        func commonness(_ b: UInt8) -> Int {
            switch b {
            case 0x20, UInt8(ascii: "/"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"): return 9
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return Array("etaoinsrhl".utf8).contains(b) ? 8 : 6
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return 6
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): return 3
            default: return 2
            }
        }
        return lit.indices.min { commonness(lit[$0]) < commonness(lit[$1]) } ?? 0
    }

    /// Whether a flag group (`(?i)`, `(?si:…)`, …) turns on case-insensitive matching anywhere.
    static func hasCaseInsensitiveFlag(_ pattern: String) -> Bool {
        let u = Array(pattern.utf8)
        var i = 0
        while i + 1 < u.count {
            if u[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if u[i] == UInt8(ascii: "("), u[i + 1] == UInt8(ascii: "?") {
                var j = i + 2
                while j < u.count, u[j] != UInt8(ascii: ")"), u[j] != UInt8(ascii: ":") {
                    if u[j] == UInt8(ascii: "-") { break }  // flags after '-' are turned off
                    if u[j] == UInt8(ascii: "i") { return true }
                    guard (u[j] | 0x20) &- 0x61 < 26 else { break }  // not a flag group
                    j += 1
                }
            }
            i += 1
        }
        return false
    }

    /// Whether `h` contains `lit` (`lit` lower-cased when `caseInsensitive`). Candidates for the
    /// byte at `anchor` (in either case, for a case-folded letter) are found by memchr, then the
    /// whole literal is checked around them.
    static func contains(_ h: UnsafeBufferPointer<UInt8>, literal lit: [UInt8], anchor a: Int = 0, caseInsensitive: Bool) -> Bool {
        lit.withUnsafeBufferPointer { contains(h, literal: $0, anchor: a, caseInsensitive: caseInsensitive) }
    }

    static func contains(_ h: UnsafeBufferPointer<UInt8>, literal lit: UnsafeBufferPointer<UInt8>, anchor a: Int, caseInsensitive: Bool) -> Bool {
        let n = h.count, m = lit.count
        guard m > 0 else { return true }
        guard n >= m, let base = h.baseAddress else { return false }
        let key = lit[a]
        let foldKey = caseInsensitive && key &- 0x61 < 26
        // The anchor byte of a match lies in first...last.
        let first = a, last = n - m + a
        @inline(__always) func matchesAt(_ p: Int) -> Bool {
            var k = 0
            while k < m {
                var c = base[p + k]
                if caseInsensitive && c &- 0x41 < 26 { c |= 0x20 }
                if c != lit[k] { return false }
                k += 1
            }
            return true
        }
        if !foldKey {
            // An exact byte: libc's vectorised memchr finds the candidates.
            var i = first
            while i <= last, let hit = memchr(base + i, Int32(key), last - i + 1) {
                let q = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if matchesAt(q - a) { return true }
                i = q + 1
            }
            return false
        }
        // A letter in either case: two memchr searches, each resumed only once its last find
        // has been tried (memchr scans far faster than a byte or word loop).
        let upper = key & ~0x20
        @inline(__always) func find(_ byte: UInt8, from i: Int) -> Int {
            guard i <= last, let hit = memchr(base + i, Int32(byte), last - i + 1) else { return Int.max }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
        var nextLower = find(key, from: first), nextUpper = find(upper, from: first)
        while true {
            let q = min(nextLower, nextUpper)
            if q == Int.max { return false }
            if matchesAt(q - a) { return true }
            if q == nextLower { nextLower = find(key, from: q + 1) } else { nextUpper = find(upper, from: q + 1) }
        }
    }

    func matches(_ s: String) -> Bool {
        guard mayMatch(s) else { return false }
        return firstMatch(in: s) != nil
    }

    /// One match: UTF-8 byte ranges of the whole match and of each named group (nil: the group
    /// did not take part).
    struct Match {
        struct Group {
            var name: String
            var range: Range<Int>?
        }

        var whole: Range<Int>
        var named: [Group]

        func group(_ name: String) -> Range<Int>? {
            named.first { $0.name == name }?.range ?? nil
        }
    }

    /// The leftmost-first match, if any.
    func firstMatch(in s: String) -> Match? {
        Self.withUTF8(s) { text in native.firstMatch(in: text, from: 0) }.map(match)
    }

    /// Every non-overlapping match, left to right (an empty match right after the previous match
    /// is skipped, as Go's regexp does).
    func allMatches(in s: String) -> [Match] {
        var search = ByteRegex.Search()
        var out: [Match] = []
        Self.withUTF8(s) { text in
            forEachMatch(in: text, search: &search) { out.append(match($0)) }
        }
        return out
    }

    /// Appends the UTF-8 byte range to mask of each match in `text` (a string's UTF-8): the
    /// whole match, or its group named `secret` when the pattern has one and it took part.
    /// Left to right, the matches `allMatches` finds; `search` is working memory the caller
    /// reuses, so a scrubbed value costs no allocation here.
    func appendMaskRanges(utf8 text: UnsafeBufferPointer<UInt8>, search: inout ByteRegex.Search, to ranges: inout [Range<Int>]) {
        let secret = secretGroup
        forEachMatch(in: text, search: &search) { slots in
            if let g = secret, slots[2 * g] >= 0, slots[2 * g + 1] >= 0 {
                ranges.append(slots[2 * g]..<slots[2 * g + 1])
            } else {
                ranges.append(slots[0]..<slots[1])
            }
        }
    }

    /// Runs `body` on the capture slots of each match in `text`, with Go's rule for empty matches.
    private func forEachMatch(in text: UnsafeBufferPointer<UInt8>, search: inout ByteRegex.Search, _ body: (ByteRegex.Slots) -> Void) {
        var from = 0
        var lastEnd = -1
        while from <= text.count, let slots = native.firstMatch(in: text, from: from, search: &search) {
            let lower = slots[0], upper = slots[1]
            let next = lower == upper ? Self.nextScalar(after: upper, in: text) : upper
            if !(lower == upper && lower == lastEnd) {
                body(slots)
                lastEnd = upper
            }
            from = next
        }
    }

    private static func nextScalar(after i: Int, in text: UnsafeBufferPointer<UInt8>) -> Int {
        var j = i + 1
        while j < text.count, text[j] & 0xC0 == 0x80 { j += 1 }
        return j
    }

    private func match(_ slots: ByteRegex.Slots) -> Match {
        Match(whole: slots[0]..<slots[1], named: native.groupNames.map { g in
            let a = slots[2 * g.index], b = slots[2 * g.index + 1]
            return Match.Group(name: g.name, range: a >= 0 && b >= 0 ? a..<b : nil)
        })
    }

    static func withUTF8<R>(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
        return Array(s.utf8).withUnsafeBufferPointer(body)
    }

    /// The longest literal run that any match must contain (see `requiredLiterals`).
    static func requiredLiteral(_ pattern: String) -> String? {
        requiredLiterals(pattern).first
    }

    /// Literal runs that any match must contain, longest first, found conservatively: outside
    /// character classes and optional parts, in the top level or in lookaround groups, and only
    /// when the pattern has no top-level alternation. Empty when there is none.
    static func requiredLiterals(_ pattern: String) -> [String] {
        var p = Substring(pattern)
        if p.hasPrefix("(?i)") { p = p.dropFirst(4) }
        let chars = Array(p)
        var runs: [String] = []
        var current = ""
        var depth = 0
        var lookaroundDepth: Int?
        var i = 0
        func flush() {
            if !current.isEmpty { runs.append(current) }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            let countsHere = depth == 0 || lookaroundDepth == depth
            switch c {
            case "\\":
                guard i + 1 < chars.count else { return [] }
                let e = chars[i + 1]
                // Quoted text (\Q…\E) can hold any character: give up rather than misread it.
                if e == "Q" { return [] }
                if countsHere, !e.isLetter, !e.isNumber {
                    current.append(e)
                } else {
                    flush()
                }
                i += 2
                if i < chars.count, "?*{".contains(chars[i]) { current = String(current.dropLast()); flush() }
                continue
            case "[":
                flush()
                // Skip the class (a ']' right after '[' or '[^' is literal).
                i += 1
                if i < chars.count, chars[i] == "^" { i += 1 }
                if i < chars.count, chars[i] == "]" { i += 1 }
                while i < chars.count, chars[i] != "]" { i += chars[i] == "\\" ? 2 : 1 }
            case "(":
                flush()
                depth += 1
                let rest = String(chars[(i + 1)...].prefix(3))
                if lookaroundDepth == nil, rest.hasPrefix("?<=") || rest.hasPrefix("?=") {
                    // Count a lookaround's literals only when it has no alternatives inside.
                    var j = i + 1, d = 1, alternatives = false
                    while j < chars.count, d > 0 {
                        switch chars[j] {
                        case "\\": j += 1
                        case "(": d += 1
                        case ")": d -= 1
                        case "|": alternatives = true
                        default: break
                        }
                        j += 1
                    }
                    if !alternatives { lookaroundDepth = depth }
                }
                if i + 1 < chars.count, chars[i + 1] == "?" {
                    // Skip the group's flags/kind up to its content.
                    i += 2
                    while i < chars.count, "<=!:PiA-Za-z>".contains(chars[i]) && chars[i] != ")" { if chars[i] == ">" || chars[i] == ":" || chars[i] == "=" || chars[i] == "!" { i += 1; break }; i += 1 }
                    continue
                }
            case ")":
                flush()
                if lookaroundDepth == depth { lookaroundDepth = nil }
                depth -= 1
                // A quantified group: what was inside may be absent, but we only count top level anyway.
            case "|":
                if depth == 0 { return [] }
                flush()
                // An alternative inside a counted lookaround makes its literals optional.
                if lookaroundDepth == depth { lookaroundDepth = nil }
            case "?", "*", "{":
                // The previous atom is optional (or repeated zero times): drop it from the run.
                if !current.isEmpty { current.removeLast() }
                flush()
                if c == "{" { while i < chars.count, chars[i] != "}" { i += 1 } }
            case "+":
                flush()
            case ".", "^", "$":
                flush()
            default:
                if countsHere { current.append(c) } else { flush() }
            }
            i += 1
        }
        flush()
        // Longest first: the rarest text is the quickest way to rule a string out.
        return runs.enumerated().sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }.map(\.element)
    }
}
