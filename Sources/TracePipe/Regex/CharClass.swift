/// A set of characters (Unicode code points) one regex instruction matches: ASCII members as a
/// bitmap, the rest as sorted ranges. Matching tests the bitmap for ASCII bytes and decodes a
/// scalar only for non-ASCII ones.
struct CharClass: Sendable, Hashable {
    /// Members below 0x80.
    var ascii: ASCIISet
    /// Members from 0x80 up: sorted, disjoint, non-adjacent ranges.
    private(set) var ranges: [ClosedRange<UInt32>]

    enum NonASCII: Sendable, Hashable { case none, all, some }
    /// How the class treats non-ASCII scalars, so the matcher decodes only when it must.
    private(set) var nonASCII: NonASCII

    static let maxScalar: UInt32 = 0x10FFFF

    init(ascii: ASCIISet = ASCIISet(), ranges: [ClosedRange<UInt32>] = []) {
        self.ascii = ascii
        self.ranges = Self.normalized(ranges.compactMap { r in r.upperBound < 0x80 ? nil : max(r.lowerBound, 0x80)...r.upperBound })
        self.nonASCII = Self.kind(self.ranges)
        for r in ranges where r.lowerBound < 0x80 {
            self.ascii.insert(range: UInt8(r.lowerBound)...UInt8(min(r.upperBound, 0x7F)))
        }
    }

    /// The class of exactly these code points (any mix of ASCII and not).
    init(codePoints ranges: [ClosedRange<UInt32>]) {
        self.init(ascii: ASCIISet(), ranges: ranges)
    }

    private static func kind(_ ranges: [ClosedRange<UInt32>]) -> NonASCII {
        if ranges.isEmpty { return .none }
        return ranges == [0x80...maxScalar] ? .all : .some
    }

    /// Sorts and merges overlapping and adjacent ranges.
    static func normalized(_ input: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var out: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = out.last, r.lowerBound <= last.upperBound &+ 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// Every member as code-point ranges, ASCII included.
    var codePointRanges: [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        var b: UInt32 = 0
        while b < 0x80 {
            guard ascii.contains(UInt8(b)) else { b += 1; continue }
            var e = b
            while e + 1 < 0x80 && ascii.contains(UInt8(e + 1)) { e += 1 }
            out.append(b...e)
            b = e + 1
        }
        return Self.normalized(out + ranges)
    }

    @inline(__always)
    func contains(_ c: UInt32) -> Bool {
        if c < 0x80 { return ascii.contains(UInt8(c)) }
        switch nonASCII {
        case .none: return false
        case .all: return true
        case .some:
            var lo = 0, hi = ranges.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if ranges[mid].upperBound < c { lo = mid + 1 } else { hi = mid }
            }
            return lo < ranges.count && ranges[lo].contains(c)
        }
    }

    func union(_ o: CharClass) -> CharClass {
        var a = ascii
        a.formUnion(o.ascii)
        return CharClass(ascii: a, ranges: ranges + o.ranges)
    }

    /// Everything not in this class (every code point up to U+10FFFF).
    var inverted: CharClass {
        var out: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0x80
        for r in ranges {
            if r.lowerBound > next { out.append(next...(r.lowerBound - 1)) }
            next = r.upperBound &+ 1
        }
        if next <= Self.maxScalar && !(ranges.last?.upperBound == Self.maxScalar) { out.append(next...Self.maxScalar) }
        return CharClass(ascii: ascii.inverted, ranges: out)
    }

    /// With every member's other cases added (Unicode simple case folding, as Go's `(?i)`:
    /// `k` brings `K` and the Kelvin sign, `σ` brings `Σ` and `ς`).
    var caseFolded: CharClass {
        var added: [ClosedRange<UInt32>] = []
        for (c, orbit) in UnicodeProperties.foldOrbits where contains(c) {
            for o in orbit where !contains(o) { added.append(o...o) }
        }
        return added.isEmpty ? self : union(CharClass(codePoints: added))
    }

    /// The UTF-8 lead bytes of the non-ASCII members (a superset), for a quick first-byte test.
    var hasNonASCII: Bool { nonASCII != .none }
}

/// A set of ASCII bytes (0–127) as two 64-bit words.
struct ASCIISet: Sendable, Hashable {
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
}
