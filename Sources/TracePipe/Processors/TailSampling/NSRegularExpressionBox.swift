import Foundation
import TraceModel

/// A compiled regular expression that may be shared across tasks (NSRegularExpression is
/// immutable and documented as thread-safe once created), with a cheap pre-check: a literal the
/// pattern cannot match without, so most strings never reach the (slow) regex engine.
struct NSRegularExpressionBox: @unchecked Sendable {
    let regex: NSRegularExpression
    /// UTF-8 of a substring every match contains (lower-cased when the pattern is case-insensitive).
    let requiredLiteral: [UInt8]?
    let caseInsensitive: Bool
    /// Whether the pattern has a group named `secret`: then only that group is masked.
    let hasSecretGroup: Bool
    /// Named groups in order: the name the config wrote and the name ICU knows it by.
    let namedGroups: [(name: String, icuName: String)]

    init(regex: NSRegularExpression, namedGroups: [(name: String, icuName: String)] = []) {
        self.regex = regex
        self.namedGroups = namedGroups
        let insensitive = regex.pattern.hasPrefix("(?i)")
        caseInsensitive = insensitive
        // Only ASCII literals: case-folding other scripts is not a byte comparison.
        requiredLiteral = Self.requiredLiteral(regex.pattern).flatMap { lit in
            lit.unicodeScalars.allSatisfy(\.isASCII) ? Array((insensitive ? lit.lowercased() : lit).utf8) : nil
        }
        hasSecretGroup = namedGroups.contains { $0.name == "secret" } || regex.pattern.contains("<secret>")
    }

    /// Whether `s` might match: false only when the required literal is absent. A byte search,
    /// ASCII case-folded for `(?i)` patterns, with no allocation.
    @inline(__always)
    func mayMatch(_ s: String) -> Bool {
        guard let lit = requiredLiteral, let first = lit.first else { return true }
        let found: Bool? = s.utf8.withContiguousStorageIfAvailable { h in
            let n = h.count, m = lit.count
            guard n >= m else { return false }
            var i = 0
            while i <= n - m {
                var c = h[i]
                if caseInsensitive && c &- 0x41 < 26 { c |= 0x20 }
                if c == first {
                    var k = 1
                    while k < m {
                        var d = h[i + k]
                        if caseInsensitive && d &- 0x41 < 26 { d |= 0x20 }
                        if d != lit[k] { break }
                        k += 1
                    }
                    if k == m { return true }
                }
                i += 1
            }
            return false
        }
        return found ?? true
    }

    func matches(_ s: String) -> Bool {
        guard mayMatch(s) else { return false }
        return regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// The longest literal run that any match must contain, found conservatively: outside
    /// character classes and optional parts, in the top level or in lookaround groups, and only
    /// when the pattern has no top-level alternation. nil when there is none.
    static func requiredLiteral(_ pattern: String) -> String? {
        var p = Substring(pattern)
        if p.hasPrefix("(?i)") { p = p.dropFirst(4) }
        let chars = Array(p)
        var best = ""
        var current = ""
        var depth = 0
        var lookaroundDepth: Int?
        var i = 0
        func flush() {
            if current.count > best.count { best = current }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            let countsHere = depth == 0 || lookaroundDepth == depth
            switch c {
            case "\\":
                guard i + 1 < chars.count else { return nil }
                let e = chars[i + 1]
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
                if depth == 0 { return nil }
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
        return best.isEmpty ? nil : best
    }
}

extension NSRegularExpressionBox {
    /// Compiles a collector (RE2) pattern. RE2 writes named groups `(?P<name>…)` and allows `_`
    /// in names; ICU wants `(?<name>…)` with letters and digits only, so every named group is
    /// renamed (`g1n`, `g2n`, …) and `namedGroups` maps the names back.
    static func re2(_ pattern: String) throws -> NSRegularExpressionBox {
        let finder = try! NSRegularExpression(pattern: #"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>"#)
        var translated = ""
        var groups: [(name: String, icuName: String)] = []
        var last = pattern.startIndex
        for m in finder.matches(in: pattern, range: NSRange(pattern.startIndex..., in: pattern)) {
            guard let whole = Range(m.range, in: pattern), let name = Range(m.range(at: 1), in: pattern) else { continue }
            // An escaped parenthesis (`\(?<…`) is a literal, not a group.
            if whole.lowerBound > pattern.startIndex, pattern[pattern.index(before: whole.lowerBound)] == "\\" { continue }
            let icuName = "g\(groups.count + 1)n"
            groups.append((String(pattern[name]), icuName))
            translated += pattern[last..<whole.lowerBound] + "(?<\(icuName)>"
            last = whole.upperBound
        }
        translated += pattern[last...]
        return NSRegularExpressionBox(regex: try NSRegularExpression(pattern: translated), namedGroups: groups)
    }

    /// The range of the group the config named `name`, in a match of this pattern.
    func range(of name: String, in match: NSTextCheckingResult) -> NSRange? {
        namedGroups.first { $0.name == name }.map { match.range(withName: $0.icuName) }
    }
}
