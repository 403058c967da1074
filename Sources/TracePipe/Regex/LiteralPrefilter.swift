/// The literal pre-check of a list of patterns as one pass over a text: which patterns can
/// match it at all, judged by the literals each must contain. The literals are laid out in one
/// byte buffer with a table of plain values, both allocated once and never changed, so checking
/// a text touches no reference counts (this runs on every attribute value a redaction processor
/// sees).
final class LiteralPrefilter: @unchecked Sendable {
    private struct Entry: Sendable {
        var offset: Int
        var length: Int
        var anchor: Int
        var pattern: Int
        var caseInsensitive: Bool
    }

    private let bytes: UnsafeMutableBufferPointer<UInt8>
    private let entries: UnsafeMutableBufferPointer<Entry>
    /// Patterns (of the first 64) that have literals to check.
    private let checked: UInt64
    /// Bit k set: pattern k may match any text (no literal to check, or beyond the first 64).
    let alwaysCandidates: UInt64
    let patternCount: Int

    init(_ patterns: [RegexPattern]) {
        var bytes: [UInt8] = []
        var entries: [Entry] = []
        var checked: UInt64 = 0
        for (k, p) in patterns.enumerated() where k < 64 && !p.requiredLiterals.isEmpty {
            checked |= 1 << UInt64(k)
            for (i, lit) in p.requiredLiterals.enumerated() {
                entries.append(Entry(offset: bytes.count, length: lit.count, anchor: p.literalAnchors[i], pattern: k, caseInsensitive: p.caseInsensitive))
                bytes += lit
            }
        }
        self.bytes = .allocate(capacity: bytes.count)
        _ = self.bytes.initialize(from: bytes)
        self.entries = .allocate(capacity: entries.count)
        _ = self.entries.initialize(from: entries)
        self.checked = checked
        let all: UInt64 = patterns.count >= 64 ? ~0 : (1 << UInt64(patterns.count)) &- 1
        alwaysCandidates = all & ~checked
        patternCount = patterns.count
    }

    deinit {
        bytes.deallocate()
        entries.deallocate()
    }

    /// Bit k set: pattern k may match `text` (patterns past the 64th are always candidates;
    /// callers test `k >= 64` themselves).
    func candidates(_ text: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var mask = checked
        guard mask != 0 else { return alwaysCandidates }
        for e in entries where mask & (1 << UInt64(e.pattern)) != 0 {
            let lit = UnsafeBufferPointer(rebasing: bytes[e.offset..<(e.offset + e.length)])
            if !RegexPattern.contains(text, literal: lit, anchor: e.anchor, caseInsensitive: e.caseInsensitive) {
                mask &= ~(1 << UInt64(e.pattern))
            }
        }
        return mask | alwaysCandidates
    }
}
