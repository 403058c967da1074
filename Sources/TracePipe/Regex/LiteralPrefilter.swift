/// The literal pre-check of a list of patterns as one pass over a text: which patterns can
/// match it at all, judged by the literals each must contain. First one scan notes which of the
/// literals' anchor bytes (their least common byte) occur in the text; only a literal whose
/// anchor occurs is then searched for. Most attribute values contain none, and cost that one
/// scan instead of a search per literal. The tables are allocated once and never change, so a
/// check touches no reference counts (this runs on every attribute value a redaction processor
/// sees).
final class LiteralPrefilter: @unchecked Sendable {
    private struct Entry: Sendable {
        var offset: Int
        var length: Int
        var anchor: Int
        var pattern: Int
        var caseInsensitive: Bool
        /// The anchor byte's bit in `anchorBits` (0: not tracked, always searched).
        var anchorBit: UInt64
    }

    private let bytes: UnsafeMutableBufferPointer<UInt8>
    private let entries: UnsafeMutableBufferPointer<Entry>
    /// For each byte value, the bit of the anchor it is (both cases of a case-folded letter).
    private let anchorBits: UnsafeMutablePointer<UInt64>
    /// When the anchors are only a few byte values: each with its bit, looked for 16 bytes at
    /// a time with vector compares (one pass per byte value, stopping where it is found) instead
    /// of the table walk (about one byte per cycle). Inline: a memchr call per byte value cost
    /// more than the search on values of typical length (20-200 bytes).
    private let fewAnchors: UnsafeMutableBufferPointer<(byte: UInt8, bit: UInt64)>
    /// At most this many distinct anchor bytes are looked for with vector compares.
    static let fewAnchorLimit = 8
    /// Anchor bytes are looked for with vector compares (for tests: which path is covered).
    var usesVectorCompares: Bool { !fewAnchors.isEmpty }
    /// Patterns (of the first 64) that have literals to check.
    private let checked: UInt64
    /// Bit k set: pattern k may match any text (no literal to check, or beyond the first 64).
    let alwaysCandidates: UInt64
    let patternCount: Int

    init(_ patterns: [RegexPattern]) {
        var bytes: [UInt8] = []
        var entries: [Entry] = []
        var checked: UInt64 = 0
        var table = [UInt64](repeating: 0, count: 256)
        var anchors: [UInt8: UInt64] = [:]
        for (k, p) in patterns.enumerated() where k < 64 && !p.requiredLiterals.isEmpty {
            checked |= 1 << UInt64(k)
            for (i, lit) in p.requiredLiterals.enumerated() {
                let a = p.literalAnchors[i]
                // Literals are lower-cased when case-insensitive: the anchor then stands for both cases.
                let anchorByte = lit[a]
                var bit = anchors[anchorByte] ?? 0
                if bit == 0 && anchors.count < 64 {
                    bit = 1 << UInt64(anchors.count)
                    anchors[anchorByte] = bit
                }
                if bit != 0 {
                    table[Int(anchorByte)] |= bit
                    if p.caseInsensitive && anchorByte &- 0x61 < 26 { table[Int(anchorByte & ~0x20)] |= bit }
                }
                entries.append(Entry(offset: bytes.count, length: lit.count, anchor: a, pattern: k, caseInsensitive: p.caseInsensitive, anchorBit: bit))
                bytes += lit
            }
        }
        self.bytes = .allocate(capacity: bytes.count)
        _ = self.bytes.initialize(from: bytes)
        self.entries = .allocate(capacity: entries.count)
        _ = self.entries.initialize(from: entries)
        anchorBits = .allocate(capacity: 256)
        anchorBits.initialize(from: table, count: 256)
        let used = (0..<256).filter { table[$0] != 0 }.map { (byte: UInt8($0), bit: table[$0]) }
        fewAnchors = .allocate(capacity: used.count <= Self.fewAnchorLimit ? used.count : 0)
        if used.count <= Self.fewAnchorLimit { _ = fewAnchors.initialize(from: used) }
        self.checked = checked
        let all: UInt64 = patterns.count >= 64 ? ~0 : (1 << UInt64(patterns.count)) &- 1
        alwaysCandidates = all & ~checked
        patternCount = patterns.count
    }

    deinit {
        bytes.deallocate()
        entries.deallocate()
        anchorBits.deallocate()
        fewAnchors.deallocate()
    }

    /// Whether `byte` is among the `count` (at least 16) bytes at `base`: 16 at a time, the
    /// last block overlapping the one before it.
    @inline(__always)
    private static func occurs(_ byte: UInt8, in base: UnsafePointer<UInt8>, count: Int) -> Bool {
        let wanted = SIMD16<UInt8>(repeating: byte)
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i &+ 16 <= count {
            if any(raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self) .== wanted) { return true }
            i &+= 16
        }
        return i < count && any(raw.loadUnaligned(fromByteOffset: count &- 16, as: SIMD16<UInt8>.self) .== wanted)
    }

    /// Bit k set: pattern k may match `text` (patterns past the 64th are always candidates;
    /// callers test `k >= 64` themselves).
    func candidates(_ text: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var mask = checked
        guard mask != 0 else { return alwaysCandidates }
        var present: UInt64 = 0
        if !fewAnchors.isEmpty && text.count >= 16, let base = text.baseAddress {
            for a in fewAnchors where Self.occurs(a.byte, in: base, count: text.count) { present |= a.bit }
        } else {
            for b in text { present |= anchorBits[Int(b)] }
        }
        for e in entries where mask & (1 << UInt64(e.pattern)) != 0 {
            // An anchor that does not occur rules its literal out without a search.
            if e.anchorBit != 0 && present & e.anchorBit == 0 {
                mask &= ~(1 << UInt64(e.pattern))
                continue
            }
            let lit = UnsafeBufferPointer(rebasing: bytes[e.offset..<(e.offset + e.length)])
            if !RegexPattern.contains(text, literal: lit, anchor: e.anchor, caseInsensitive: e.caseInsensitive) {
                mask &= ~(1 << UInt64(e.pattern))
            }
        }
        return mask | alwaysCandidates
    }
}
