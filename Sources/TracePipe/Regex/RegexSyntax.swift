/// The parsed form of an RE2 pattern, for the native matcher (`ByteRegex`). Only what that
/// matcher runs exactly is accepted: ASCII patterns with literals, classes, `.`, anchors, word
/// boundaries, groups (named or not), alternation, greedy and lazy repetition and the flags
/// `i`, `s`, `m`. Anything else (Unicode classes, non-ASCII literals, lookarounds, …) makes the
/// parser give up, and the pattern runs on NSRegularExpression instead.
indirect enum RegexNode: Sendable {
    case empty
    /// One character: an ASCII byte in `set`, or (when `nonASCII`) any non-ASCII scalar.
    case cls(ASCIISet, nonASCII: Bool)
    case concat([RegexNode])
    case alternate([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?, greedy: Bool)
    case capture(RegexNode, index: Int)
    case assertion(RegexAssertion)
}

enum RegexAssertion: Sendable {
    case beginText, endText, beginLine, endLine, wordBoundary, notWordBoundary
}

/// A set of ASCII bytes (0–127) as two 64-bit words.
struct ASCIISet: Sendable, Equatable {
    var lo: UInt64 = 0
    var hi: UInt64 = 0

    static let all = ASCIISet(lo: ~0, hi: ~0)
    static let digits = ASCIISet(range: 0x30...0x39)
    static let word: ASCIISet = {
        var s = ASCIISet(range: 0x30...0x39)
        s.insert(range: 0x41...0x5A)
        s.insert(range: 0x61...0x7A)
        s.insert(0x5F)
        return s
    }()
    /// RE2's `\s`: tab, newline, form feed, carriage return, space.
    static let space: ASCIISet = {
        var s = ASCIISet()
        for b: UInt8 in [0x09, 0x0A, 0x0C, 0x0D, 0x20] { s.insert(b) }
        return s
    }()

    init(lo: UInt64 = 0, hi: UInt64 = 0) {
        self.lo = lo
        self.hi = hi
    }

    init(range: ClosedRange<UInt8>) {
        insert(range: range)
    }

    @inline(__always) func contains(_ b: UInt8) -> Bool {
        b < 64 ? (lo >> UInt64(b)) & 1 == 1 : b < 128 ? (hi >> UInt64(b &- 64)) & 1 == 1 : false
    }

    mutating func insert(_ b: UInt8) {
        if b < 64 { lo |= 1 << UInt64(b) } else if b < 128 { hi |= 1 << UInt64(b - 64) }
    }

    mutating func insert(range: ClosedRange<UInt8>) {
        for b in range where b < 128 { insert(b) }
    }

    mutating func formUnion(_ o: ASCIISet) {
        lo |= o.lo
        hi |= o.hi
    }

    var inverted: ASCIISet { ASCIISet(lo: ~lo, hi: ~hi) }

    /// With the other case of every ASCII letter added.
    var caseFolded: ASCIISet {
        var s = self
        for b in UInt8(0x41)...0x5A where contains(b) || contains(b | 0x20) {
            s.insert(b)
            s.insert(b | 0x20)
        }
        return s
    }
}

/// Parses RE2 syntax into a `RegexNode`; `nil` when the pattern uses anything the native matcher
/// does not run (see `RegexNode`) or is not valid — NSRegularExpression then decides.
struct RegexParser {
    struct Flags {
        var caseInsensitive = false
        var dotAll = false
        var multiLine = false
    }

    struct Unsupported: Error {}

    private let p: [UInt8]
    private var i = 0
    private var flags = Flags()
    private(set) var groupCount = 0
    private(set) var groupNames: [(name: String, index: Int)] = []

    /// RE2's limit on counted repetition.
    static let maxRepeat = 1000

    init(_ pattern: String) {
        p = Array(pattern.utf8)
    }

    static func parse(_ pattern: String) -> (node: RegexNode, groups: Int, names: [(name: String, index: Int)])? {
        var parser = RegexParser(pattern)
        guard parser.p.allSatisfy({ $0 < 0x80 }), let node = try? parser.alternation(), parser.i == parser.p.count else { return nil }
        return (node, parser.groupCount, parser.groupNames)
    }

    private var atEnd: Bool { i >= p.count }
    private func peek(_ k: Int = 0) -> UInt8? { i + k < p.count ? p[i + k] : nil }

    /// Flags set by `(?i)` last until the end of the enclosing group, across its alternatives.
    private mutating func alternation() throws -> RegexNode {
        let saved = flags
        defer { flags = saved }
        var branches = [try concatenation()]
        while peek() == UInt8(ascii: "|") {
            i += 1
            branches.append(try concatenation())
        }
        return branches.count == 1 ? branches[0] : .alternate(branches)
    }

    private mutating func concatenation() throws -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != UInt8(ascii: "|"), c != UInt8(ascii: ")") {
            var atom = try self.atom()
            // Repetition operators; a second one in a row is an error in RE2.
            if let q = try quantifier() {
                switch atom {
                case .empty, .assertion: throw Unsupported()
                default: break
                }
                atom = .repetition(atom, min: q.min, max: q.max, greedy: q.greedy)
                if let c = peek(), c == UInt8(ascii: "*") || c == UInt8(ascii: "+") || c == UInt8(ascii: "?") { throw Unsupported() }
            }
            items.append(atom)
        }
        return items.count == 1 ? items[0] : .concat(items)
    }

    private mutating func quantifier() throws -> (min: Int, max: Int?, greedy: Bool)? {
        guard let c = peek() else { return nil }
        var q: (min: Int, max: Int?)
        switch c {
        case UInt8(ascii: "*"): q = (0, nil); i += 1
        case UInt8(ascii: "+"): q = (1, nil); i += 1
        case UInt8(ascii: "?"): q = (0, 1); i += 1
        case UInt8(ascii: "{"):
            guard let counted = countedRepeat() else { return nil }
            q = counted
        default: return nil
        }
        var greedy = true
        if peek() == UInt8(ascii: "?") {
            greedy = false
            i += 1
        }
        return (q.min, q.max, greedy)
    }

    /// `{n}`, `{n,}` or `{n,m}`; anything else leaves `{` a literal (as in RE2).
    private mutating func countedRepeat() -> (min: Int, max: Int?)? {
        var j = i + 1
        func number() -> Int? {
            var v = 0, digits = 0
            while j < p.count, p[j] >= 0x30, p[j] <= 0x39 {
                v = v * 10 + Int(p[j] - 0x30)
                digits += 1
                j += 1
                if v > RegexParser.maxRepeat { return nil }
            }
            return digits > 0 ? v : nil
        }
        guard let lower = number() else { return nil }
        var upper: Int? = lower
        if j < p.count, p[j] == UInt8(ascii: ",") {
            j += 1
            upper = j < p.count && p[j] == UInt8(ascii: "}") ? nil : number()
            if upper == nil, !(j < p.count && p[j] == UInt8(ascii: "}")) { return nil }
        }
        guard j < p.count, p[j] == UInt8(ascii: "}") else { return nil }
        if let u = upper, u < lower { return nil }
        i = j + 1
        return (lower, upper)
    }

    private mutating func atom() throws -> RegexNode {
        let c = p[i]
        i += 1
        switch c {
        case UInt8(ascii: "("): return try group()
        case UInt8(ascii: "["): return try charClass()
        case UInt8(ascii: "."):
            var set = ASCIISet.all
            if !flags.dotAll { set = ASCIISet(lo: set.lo & ~(1 << 10), hi: set.hi) }
            return .cls(set, nonASCII: true)
        case UInt8(ascii: "^"): return .assertion(flags.multiLine ? .beginLine : .beginText)
        case UInt8(ascii: "$"): return .assertion(flags.multiLine ? .endLine : .endText)
        case UInt8(ascii: "\\"): return try escape()
        case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"): throw Unsupported()
        default: return literal(c)
        }
    }

    private func literal(_ c: UInt8) -> RegexNode {
        var s = ASCIISet()
        s.insert(c)
        return .cls(flags.caseInsensitive ? s.caseFolded : s, nonASCII: false)
    }

    private mutating func group() throws -> RegexNode {
        guard peek() == UInt8(ascii: "?") else {
            groupCount += 1
            let index = groupCount
            return try closeGroup(.capture(try alternation(), index: index))
        }
        i += 1
        // Named groups: (?P<name>…) and (?<name>…).
        if peek() == UInt8(ascii: "P") && peek(1) == UInt8(ascii: "<") { i += 1 }
        if peek() == UInt8(ascii: "<") {
            i += 1
            var name: [UInt8] = []
            while let c = peek(), c != UInt8(ascii: ">") {
                guard ASCIISet.word.contains(c) else { throw Unsupported() }
                name.append(c)
                i += 1
            }
            guard !name.isEmpty, peek() == UInt8(ascii: ">") else { throw Unsupported() }
            i += 1
            groupCount += 1
            let index = groupCount
            groupNames.append((String(decoding: name, as: UTF8.self), index))
            return try closeGroup(.capture(try alternation(), index: index))
        }
        // Flags: (?flags) for the rest of the enclosing group, (?flags:…) for this group only.
        var f = flags
        var negate = false
        while let c = peek() {
            i += 1
            switch c {
            case UInt8(ascii: "i"): f.caseInsensitive = !negate
            case UInt8(ascii: "s"): f.dotAll = !negate
            case UInt8(ascii: "m"): f.multiLine = !negate
            case UInt8(ascii: "-"):
                guard !negate else { throw Unsupported() }
                negate = true
            case UInt8(ascii: ")"):
                flags = f
                return .empty
            case UInt8(ascii: ":"):
                let saved = flags
                flags = f
                defer { flags = saved }
                return try closeGroup(try alternation())
            default:
                throw Unsupported()  // lookarounds, (?U), …
            }
        }
        throw Unsupported()
    }

    private mutating func closeGroup(_ node: RegexNode) throws -> RegexNode {
        guard peek() == UInt8(ascii: ")") else { throw Unsupported() }
        i += 1
        return node
    }

    /// A class escape (`\d`, `\W`, …): its ASCII members and whether non-ASCII scalars belong.
    private func classEscape(_ c: UInt8) -> (ASCIISet, Bool)? {
        switch c {
        case UInt8(ascii: "d"): return (.digits, false)
        case UInt8(ascii: "D"): return (ASCIISet.digits.inverted, true)
        case UInt8(ascii: "w"): return (.word, false)
        case UInt8(ascii: "W"): return (ASCIISet.word.inverted, true)
        case UInt8(ascii: "s"): return (.space, false)
        case UInt8(ascii: "S"): return (ASCIISet.space.inverted, true)
        default: return nil
        }
    }

    /// The byte a single-character escape stands for (`\n`, `\.`, `\x41`, …).
    private mutating func escapedByte(_ c: UInt8) throws -> UInt8 {
        switch c {
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "v"): return 0x0B
        case UInt8(ascii: "a"): return 0x07
        case UInt8(ascii: "x"):
            guard let h = peek(), let l = peek(1), let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16), v < 0x80 else { throw Unsupported() }
            i += 2
            return v
        default:
            // Escaped punctuation is itself; escaped letters and digits mean something else.
            guard !ASCIISet.word.contains(c) else { throw Unsupported() }
            return c
        }
    }

    private mutating func escape() throws -> RegexNode {
        guard let c = peek() else { throw Unsupported() }
        i += 1
        if let (set, nonASCII) = classEscape(c) { return .cls(set, nonASCII: nonASCII) }
        switch c {
        case UInt8(ascii: "b"): return .assertion(.wordBoundary)
        case UInt8(ascii: "B"): return .assertion(.notWordBoundary)
        case UInt8(ascii: "A"): return .assertion(.beginText)
        case UInt8(ascii: "z"): return .assertion(.endText)
        default: return literal(try escapedByte(c))
        }
    }

    private mutating func charClass() throws -> RegexNode {
        var set = ASCIISet()
        var nonASCII = false
        var negated = false
        if peek() == UInt8(ascii: "^") {
            negated = true
            i += 1
        }
        var first = true
        while true {
            guard let c = peek() else { throw Unsupported() }
            if c == UInt8(ascii: "]") && !first {
                i += 1
                break
            }
            first = false
            if c == UInt8(ascii: "[") && peek(1) == UInt8(ascii: ":") { throw Unsupported() }  // POSIX classes
            i += 1
            var low = c
            if c == UInt8(ascii: "\\") {
                guard let e = peek() else { throw Unsupported() }
                i += 1
                if let (s, n) = classEscape(e) {
                    set.formUnion(s)
                    nonASCII = nonASCII || n
                    continue
                }
                low = try escapedByte(e)
            }
            // A range `a-z` (a `-` before `]` is a literal).
            if peek() == UInt8(ascii: "-"), let next = peek(1), next != UInt8(ascii: "]") {
                i += 1
                var high = next
                i += 1
                if next == UInt8(ascii: "\\") {
                    guard let e = peek() else { throw Unsupported() }
                    i += 1
                    high = try escapedByte(e)
                }
                guard low <= high else { throw Unsupported() }
                set.insert(range: low...high)
            } else {
                set.insert(low)
            }
        }
        if flags.caseInsensitive { set = set.caseFolded }
        return negated ? .cls(set.inverted, nonASCII: !nonASCII) : .cls(set, nonASCII: nonASCII)
    }
}
