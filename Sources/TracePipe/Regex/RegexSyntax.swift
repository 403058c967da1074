/// The parsed form of a pattern in the collector's regex syntax: RE2's, as Go's `regexp`
/// accepts it (the collector is written in Go). What Go rejects is rejected here with its
/// reason and byte offset; what it accepts parses to the same meaning.
indirect enum RegexNode: Sendable {
    case empty
    /// One character of the class.
    case cls(CharClass)
    case concat([RegexNode])
    case alternate([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?, greedy: Bool)
    case capture(RegexNode, index: Int)
    case assertion(RegexAssertion)
}

enum RegexAssertion: Sendable {
    case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
}

/// Why a pattern is not valid: Go's wording, the offending text and where it starts.
struct RegexSyntaxError: Error, CustomStringConvertible, Equatable {
    var pattern: String
    var message: String
    /// The part of the pattern at fault, as Go quotes it.
    var fragment: String
    /// Byte offset of `fragment` in the pattern.
    var offset: Int

    var description: String {
        "invalid regular expression \(Self.quoted(pattern)): \(message): `\(fragment)` at offset \(offset)"
    }

    private static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s {
            if c == "\\" || c == "\"" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }
}

/// Parses the collector's regex syntax (Go's `regexp/syntax` with its Perl flags) into a
/// `RegexNode`: literals (any Unicode), `.`, classes with ranges, negation, POSIX `[:name:]`,
/// Perl `\d\s\w`, Unicode `\pN`/`\p{Name}` (categories and scripts); `^ $ \A \z \b \B`;
/// groups (capturing, `(?P<name>…)`, `(?<name>…)`, non-capturing with flags `i m s U`);
/// alternation; `* + ? {n} {n,} {n,m}`, lazy with `?`; `\Q…\E`; escapes `\a \f \t \n \r \v`,
/// octal, `\xHH`, `\x{H…}` and escaped punctuation.
struct RegexParser {
    struct Flags {
        var caseInsensitive = false
        var dotAll = false
        var multiLine = false
        var ungreedy = false
    }

    struct Parsed {
        var node: RegexNode
        var groups: Int
        var names: [(name: String, index: Int)]
    }

    private let pattern: String
    private let p: [UInt8]
    private var i = 0
    private var flags = Flags()
    private var depth = 0
    private(set) var groupCount = 0
    private(set) var groupNames: [(name: String, index: Int)] = []

    /// Go's limits: counted repetition up to 1000, nesting up to 1000 deep.
    static let maxRepeat = 1000
    static let maxDepth = 1000

    init(_ pattern: String) {
        self.pattern = pattern
        p = Array(pattern.utf8)
    }

    static func parse(_ pattern: String) throws(RegexSyntaxError) -> Parsed {
        var parser = RegexParser(pattern)
        let node = try parser.alternation()
        if parser.i < parser.p.count {
            // Only an unmatched ')' stops the top level early.
            throw parser.error("unexpected )", from: parser.i, to: parser.p.count)
        }
        return Parsed(node: node, groups: parser.groupCount, names: parser.groupNames)
    }

    // MARK: errors and input

    private func error(_ message: String, from: Int, to: Int? = nil) -> RegexSyntaxError {
        let end = min(max(to ?? i, from), p.count)
        return RegexSyntaxError(pattern: pattern, message: message, fragment: String(decoding: p[from..<end], as: UTF8.self), offset: from)
    }

    private func peek(_ k: Int = 0) -> UInt8? { i + k < p.count ? p[i + k] : nil }

    private func at(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return i + u.count <= p.count && Array(p[i..<i + u.count]) == u
    }

    /// The scalar at `i` (the pattern is a Swift string: valid UTF-8), and moves past it.
    private mutating func nextScalar() -> UInt32 {
        let b = p[i]
        let n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
        var c = n == 1 ? UInt32(b) : UInt32(b) & (0xFF >> UInt32(n + 1))
        for k in 1..<n { c = c << 6 | UInt32(p[i + k] & 0x3F) }
        i += n
        return c
    }

    // MARK: structure

    /// Flags set by `(?i)` last until the end of the enclosing group, across its alternatives.
    private mutating func alternation() throws(RegexSyntaxError) -> RegexNode {
        let saved = flags
        defer { flags = saved }
        var branches = [try concatenation()]
        while peek() == UInt8(ascii: "|") {
            i += 1
            branches.append(try concatenation())
        }
        return branches.count == 1 ? branches[0] : .alternate(branches)
    }

    private mutating func concatenation() throws(RegexSyntaxError) -> RegexNode {
        var items: [RegexNode] = []
        // Where the repetition operator just applied started: a second one right after it is
        // an error (`a**`), as in Go.
        var lastRepeat: Int?
        while let c = peek(), c != UInt8(ascii: "|"), c != UInt8(ascii: ")") {
            let start = i
            if let q = try quantifier() {
                if let last = lastRepeat { throw error("invalid nested repetition operator", from: last) }
                guard let operand = items.popLast() else { throw error("missing argument to repetition operator", from: start) }
                let repeated = RegexNode.repetition(operand, min: q.min, max: q.max, greedy: q.greedy)
                // Counted repetitions inside counted repetitions: their product is capped too.
                if (q.min >= 2 || (q.max ?? 0) >= 2) && !Self.repeatIsValid(repeated, Self.maxRepeat) {
                    throw error("invalid repeat count", from: start)
                }
                items.append(repeated)
                lastRepeat = start
                continue
            }
            lastRepeat = nil
            items += try atoms()
        }
        return items.count == 1 ? items[0] : items.isEmpty ? .empty : .concat(items)
    }

    /// Whether the counts of nested repetitions multiply to at most `n` (Go's and RE2's check).
    private static func repeatIsValid(_ node: RegexNode, _ n: Int) -> Bool {
        switch node {
        case .repetition(let inner, let min, let max, _):
            let m = max ?? min
            if m == 0 && max != nil { return true }
            if m > n { return false }
            return repeatIsValid(inner, m > 0 ? n / m : n)
        case .concat(let items), .alternate(let items):
            return items.allSatisfy { repeatIsValid($0, n) }
        case .capture(let inner, _):
            return repeatIsValid(inner, n)
        case .empty, .cls, .assertion:
            return true
        }
    }

    /// A repetition operator at `i`, if there is one (a `{` that is not a valid count is a literal).
    private mutating func quantifier() throws(RegexSyntaxError) -> (min: Int, max: Int?, greedy: Bool)? {
        guard let c = peek() else { return nil }
        let start = i
        var q: (min: Int, max: Int?)
        switch c {
        case UInt8(ascii: "*"): q = (0, nil); i += 1
        case UInt8(ascii: "+"): q = (1, nil); i += 1
        case UInt8(ascii: "?"): q = (0, 1); i += 1
        case UInt8(ascii: "{"):
            guard let counted = countedRepeat() else { return nil }
            if counted.min > Self.maxRepeat || (counted.max ?? 0) > Self.maxRepeat || counted.max.map({ $0 < counted.min }) == true {
                throw error("invalid repeat count", from: start)
            }
            q = counted
        default: return nil
        }
        var greedy = !flags.ungreedy
        if peek() == UInt8(ascii: "?") {
            greedy.toggle()
            i += 1
        }
        return (q.min, q.max, greedy)
    }

    /// `{n}`, `{n,}` or `{n,m}` (numbers unchecked); nil (and `i` unmoved) for anything else.
    private mutating func countedRepeat() -> (min: Int, max: Int?)? {
        var j = i + 1
        func number() -> Int? {
            // A number with a leading zero (`{01}`) makes the brace a literal, as in Go.
            if j + 1 < p.count, p[j] == 0x30, p[j + 1] >= 0x30, p[j + 1] <= 0x39 { return nil }
            var v = 0, digits = 0
            while j < p.count, p[j] >= 0x30, p[j] <= 0x39 {
                v = min(v * 10 + Int(p[j] - 0x30), 100_000_000)
                digits += 1
                j += 1
            }
            return digits > 0 ? v : nil
        }
        guard let lower = number() else { return nil }
        var upper: Int? = lower
        if j < p.count, p[j] == UInt8(ascii: ",") {
            j += 1
            if j < p.count, p[j] == UInt8(ascii: "}") {
                upper = nil
            } else {
                guard let u = number() else { return nil }
                upper = u
            }
        }
        guard j < p.count, p[j] == UInt8(ascii: "}") else { return nil }
        i = j + 1
        return (lower, upper)
    }

    /// The next atom (or several: `\Q…\E` is one literal each, so a following operator repeats
    /// its last character; a flags group is none).
    private mutating func atoms() throws(RegexSyntaxError) -> [RegexNode] {
        let start = i
        switch p[i] {
        case UInt8(ascii: "("):
            i += 1
            return try group(start).map { [$0] } ?? []
        case UInt8(ascii: "["):
            i += 1
            return [.cls(try charClass(start))]
        case UInt8(ascii: "."):
            i += 1
            var c = CharClass(codePoints: [0...CharClass.maxScalar])
            if !flags.dotAll { c = CharClass(codePoints: [0...9, 11...CharClass.maxScalar]) }
            return [.cls(c)]
        case UInt8(ascii: "^"):
            i += 1
            return [.assertion(flags.multiLine ? .beginLine : .beginText)]
        case UInt8(ascii: "$"):
            i += 1
            return [.assertion(flags.multiLine ? .endLine : .endText)]
        case UInt8(ascii: "\\"):
            return try escapeAtoms()
        default:
            return [literal(nextScalar())]
        }
    }

    private func literal(_ c: UInt32) -> RegexNode {
        let cls = CharClass(codePoints: [c...c])
        return .cls(flags.caseInsensitive ? cls.caseFolded : cls)
    }

    /// After `(`: a group, or nil for a flags-only group `(?i)`.
    private mutating func group(_ start: Int) throws(RegexSyntaxError) -> RegexNode? {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw error("expression nests too deeply", from: start) }
        guard peek() == UInt8(ascii: "?") else {
            groupCount += 1
            let index = groupCount
            return try closeGroup(.capture(try alternation(), index: index), opened: start)
        }
        i += 1
        if at("P=") || at("P>") { throw error("invalid named capture", from: start, to: i + 2) }
        if at("<=") || at("<!") { throw error("invalid or unsupported Perl syntax (lookbehind)", from: start, to: i + 2) }
        if at("P<") || at("<") {
            i += at("P<") ? 2 : 1
            let nameStart = i
            while let c = peek(), c != UInt8(ascii: ">") { i += 1 }
            guard peek() == UInt8(ascii: ">") else { throw error("invalid named capture", from: start, to: p.count) }
            let name = String(decoding: p[nameStart..<i], as: UTF8.self)
            i += 1
            guard !name.isEmpty, p[nameStart..<i - 1].allSatisfy({ ASCIISet.word.contains($0) }) else {
                throw error("invalid named capture", from: start)
            }
            groupCount += 1
            let index = groupCount
            groupNames.append((name, index))
            return try closeGroup(.capture(try alternation(), index: index), opened: start)
        }
        // Flags: (?flags) for the rest of the enclosing group, (?flags:…) for this group only.
        var f = flags
        var negated = false
        var sawFlag = false
        while let c = peek() {
            i += 1
            switch c {
            case UInt8(ascii: "i"): f.caseInsensitive = !negated; sawFlag = true
            case UInt8(ascii: "s"): f.dotAll = !negated; sawFlag = true
            case UInt8(ascii: "m"): f.multiLine = !negated; sawFlag = true
            case UInt8(ascii: "U"): f.ungreedy = !negated; sawFlag = true
            case UInt8(ascii: "-") where !negated:
                negated = true
                sawFlag = false
            case UInt8(ascii: ")") where !negated || sawFlag:
                flags = f
                return nil
            case UInt8(ascii: ":") where !negated || sawFlag:
                let saved = flags
                flags = f
                defer { flags = saved }
                return try closeGroup(try alternation(), opened: start)
            default:
                // Lookahead `(?=`, `(?!`, atomic groups, other flags…
                throw error("invalid or unsupported Perl syntax", from: start)
            }
        }
        throw error("missing closing )", from: start, to: p.count)
    }

    private mutating func closeGroup(_ node: RegexNode, opened: Int) throws(RegexSyntaxError) -> RegexNode {
        guard peek() == UInt8(ascii: ")") else { throw error("missing closing )", from: opened, to: p.count) }
        i += 1
        return node
    }

    // MARK: escapes

    private mutating func escapeAtoms() throws(RegexSyntaxError) -> [RegexNode] {
        let start = i
        i += 1
        guard let c = peek() else { throw error("trailing backslash at end of expression", from: start) }
        switch c {
        case UInt8(ascii: "A"): i += 1; return [.assertion(.beginText)]
        case UInt8(ascii: "z"): i += 1; return [.assertion(.endText)]
        case UInt8(ascii: "b"): i += 1; return [.assertion(.wordBoundary)]
        case UInt8(ascii: "B"): i += 1; return [.assertion(.notWordBoundary)]
        case UInt8(ascii: "Q"):
            // Literal text up to \E or the end.
            i += 1
            var out: [RegexNode] = []
            while i < p.count {
                if at("\\E") {
                    i += 2
                    break
                }
                out.append(literal(nextScalar()))
            }
            return out
        default:
            i = start
            if let cls = try classEscape() { return [.cls(cls)] }
            return [literal(try escapedScalar())]
        }
    }

    /// At a backslash: `\d \D \s \S \w \W \pN \p{…} \PN \P{…}` as a class (case-folded under
    /// `(?i)`, as Go folds them); nil (and `i` unmoved) for any other escape.
    private mutating func classEscape() throws(RegexSyntaxError) -> CharClass? {
        let start = i
        guard peek() == UInt8(ascii: "\\"), let c = peek(1) else { return nil }
        var cls: CharClass
        switch c {
        case UInt8(ascii: "d"), UInt8(ascii: "D"): cls = CharClass(ascii: .digits)
        case UInt8(ascii: "s"), UInt8(ascii: "S"): cls = CharClass(ascii: .space)
        case UInt8(ascii: "w"), UInt8(ascii: "W"): cls = CharClass(ascii: .word)
        case UInt8(ascii: "p"), UInt8(ascii: "P"):
            i += 2
            var negated = c == UInt8(ascii: "P")
            var name: String
            if peek() == UInt8(ascii: "{") {
                i += 1
                let nameStart = i
                while let b = peek(), b != UInt8(ascii: "}") { i += 1 }
                guard peek() == UInt8(ascii: "}") else { throw error("invalid character class range", from: start, to: p.count) }
                name = String(decoding: p[nameStart..<i], as: UTF8.self)
                i += 1
            } else {
                guard i < p.count else { throw error("invalid character class range", from: start) }
                let nameStart = i
                _ = nextScalar()
                name = String(decoding: p[nameStart..<i], as: UTF8.self)
            }
            if name.hasPrefix("^") {
                negated.toggle()
                name.removeFirst()
            }
            guard let named = UnicodeProperties.named(name) else { throw error("invalid character class range", from: start) }
            let folded = flags.caseInsensitive ? named.caseFolded : named
            return negated ? folded.inverted : folded
        default:
            return nil
        }
        i += 2
        if flags.caseInsensitive { cls = cls.caseFolded }
        // The upper-case forms are the complements.
        return c < UInt8(ascii: "a") ? cls.inverted : cls
    }

    /// At a backslash: the one character an escape stands for (`\n`, `\.`, `\x41`, `\x{263a}`,
    /// `\012`, …), or Go's "invalid escape sequence".
    private mutating func escapedScalar() throws(RegexSyntaxError) -> UInt32 {
        let start = i
        i += 1
        guard i < p.count else { throw error("trailing backslash at end of expression", from: start) }
        let c = p[i]
        func invalid() -> RegexSyntaxError { error("invalid escape sequence", from: start, to: min(i, p.count)) }
        if c >= 0x80 {
            // An escaped non-ASCII character is not punctuation: Go rejects it.
            _ = nextScalar()
            throw invalid()
        }
        i += 1
        func octal(_ d: UInt8?) -> Bool { d.map { $0 >= 0x30 && $0 <= 0x37 } ?? false }
        switch c {
        case UInt8(ascii: "1")...UInt8(ascii: "7") where !octal(peek()):
            // A single non-zero digit is a backreference: not supported.
            throw invalid()
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            var v = UInt32(c - 0x30)
            for _ in 0..<2 where octal(peek()) {
                v = v * 8 + UInt32(p[i] - 0x30)
                i += 1
            }
            return v
        case UInt8(ascii: "x"):
            func hex(_ b: UInt8?) -> UInt32? {
                guard let b else { return nil }
                switch b {
                case 0x30...0x39: return UInt32(b - 0x30)
                case 0x41...0x46: return UInt32(b - 0x41 + 10)
                case 0x61...0x66: return UInt32(b - 0x61 + 10)
                default: return nil
                }
            }
            if peek() == UInt8(ascii: "{") {
                i += 1
                var v: UInt32 = 0
                var digits = 0
                while let d = hex(peek()) {
                    v = v * 16 + d
                    i += 1
                    digits += 1
                    if v > CharClass.maxScalar { throw invalid() }
                }
                guard digits > 0, peek() == UInt8(ascii: "}") else { throw invalid() }
                i += 1
                return v
            }
            guard let h = hex(peek()), let l = hex(peek(1)) else {
                i = min(i + 2, p.count)
                throw invalid()
            }
            i += 2
            return h * 16 + l
        case UInt8(ascii: "a"): return 0x07
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "v"): return 0x0B
        default:
            // Escaped punctuation (and `_`) is itself; other letters and digits mean nothing.
            guard !ASCIISet.word.contains(c) || c == UInt8(ascii: "_") else { throw invalid() }
            return UInt32(c)
        }
    }

    // MARK: classes

    /// After `[`: the class up to its `]`.
    private mutating func charClass(_ start: Int) throws(RegexSyntaxError) -> CharClass {
        var negated = false
        if peek() == UInt8(ascii: "^") {
            negated = true
            i += 1
        }
        var cls = CharClass()
        var first = true
        while true {
            guard let c = peek() else { throw error("missing closing ]", from: start, to: p.count) }
            if c == UInt8(ascii: "]") && !first {
                i += 1
                break
            }
            first = false
            if c == UInt8(ascii: "["), peek(1) == UInt8(ascii: ":"), let posix = try posixClass() {
                cls = cls.union(posix)
                continue
            }
            if let named = try classEscape() {
                cls = cls.union(named)
                continue
            }
            let rangeStart = i
            let lo = try classChar()
            var hi = lo
            if peek() == UInt8(ascii: "-"), let next = peek(1), next != UInt8(ascii: "]") {
                i += 1
                hi = try classChar()
                guard lo <= hi else { throw error("invalid character class range", from: rangeStart) }
            }
            let piece = CharClass(codePoints: [lo...hi])
            cls = cls.union(flags.caseInsensitive ? piece.caseFolded : piece)
        }
        return negated ? cls.inverted : cls
    }

    /// One character of a class: a literal scalar or an escape.
    private mutating func classChar() throws(RegexSyntaxError) -> UInt32 {
        if peek() == UInt8(ascii: "\\") { return try escapedScalar() }
        return nextScalar()
    }

    /// At `[:`: a POSIX class `[:name:]` or `[:^name:]`; nil (and `i` unmoved) when there is no
    /// closing `:]` (then `[` is a literal), an error for an unknown name.
    private mutating func posixClass() throws(RegexSyntaxError) -> CharClass? {
        let start = i
        var j = i + 2
        while j + 1 < p.count, !(p[j] == UInt8(ascii: ":") && p[j + 1] == UInt8(ascii: "]")) { j += 1 }
        guard j + 1 < p.count else { return nil }
        var name = String(decoding: p[(i + 2)..<j], as: UTF8.self)
        i = j + 2
        let negated = name.hasPrefix("^")
        if negated { name.removeFirst() }
        var set = ASCIISet()
        func add(_ r: ClosedRange<UInt8>) { set.insert(range: r) }
        switch name {
        case "alnum": add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A)
        case "alpha": add(0x41...0x5A); add(0x61...0x7A)
        case "ascii": add(0x00...0x7F)
        case "blank": add(0x09...0x09); add(0x20...0x20)
        case "cntrl": add(0x00...0x1F); add(0x7F...0x7F)
        case "digit": add(0x30...0x39)
        case "graph": add(0x21...0x7E)
        case "lower": add(0x61...0x7A)
        case "print": add(0x20...0x7E)
        case "punct": add(0x21...0x2F); add(0x3A...0x40); add(0x5B...0x60); add(0x7B...0x7E)
        case "space": add(0x09...0x0D); add(0x20...0x20)
        case "upper": add(0x41...0x5A)
        case "word": set = .word
        case "xdigit": add(0x30...0x39); add(0x41...0x46); add(0x61...0x66)
        default: throw error("invalid character class range", from: start)
        }
        var cls = CharClass(ascii: set)
        if flags.caseInsensitive { cls = cls.caseFolded }
        return negated ? cls.inverted : cls
    }
}
