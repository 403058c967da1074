/// The string values of one request that a redaction processor found nothing to do about.
/// Values repeat from span to span (methods, routes, user agents, host names) and, decoded,
/// share storage (the decoders intern them; short ones are stored inline), so a repeat is
/// recognised by the two machine words of its `String` without reading its bytes again.
///
/// Only the words are kept, not the strings: no reference counting per value. That is sound
/// only while every remembered string stays alive, so that equal words mean the same string
/// (storage cannot be freed and reused for different text): the memo must not outlive the
/// scrubbing pass over one request, and only values that stay in that request may go in.
struct CleanValueMemo {
    private static var probes: Int { 4 }
    private let mask: Int
    /// Two words per slot; (0, 0) is empty (no string has those words: an empty string is
    /// stored inline with a flag set, every other has a storage address or inline bytes).
    private var slots: [UInt64]

    init(size: Int = 512) {
        assert(MemoryLayout<String>.size == 16, "a String is two machine words")
        assert(size > 0 && size & (size - 1) == 0, "a power of two")
        mask = size - 1
        slots = Array(repeating: 0, count: 2 * size)
    }

    @inline(__always)
    private func home(_ w: (UInt64, UInt64)) -> Int {
        Int(truncatingIfNeeded: StringWords.mix(w) >> 40) & mask
    }

    @inline(__always)
    func contains(_ s: String) -> Bool {
        let w = StringWords.of(s)
        let h = home(w)
        return slots.withUnsafeBufferPointer { p in
            for i in 0..<Self.probes {
                let at = 2 &* ((h &+ i) & mask)
                if p[at] == w.0 && p[at &+ 1] == w.1 { return true }
                if p[at] == 0 && p[at &+ 1] == 0 { return false }
            }
            return false
        }
    }

    /// Remembers `s` (in the first empty slot of its probe path, else its own slot).
    mutating func insert(_ s: String) {
        let w = StringWords.of(s)
        let h = home(w)
        slots.withUnsafeMutableBufferPointer { p in
            var target = 2 &* h
            for i in 0..<Self.probes {
                let at = 2 &* ((h &+ i) & mask)
                if p[at] == 0 && p[at &+ 1] == 0 {
                    target = at
                    break
                }
            }
            p[target] = w.0
            p[target &+ 1] = w.1
        }
    }
}
