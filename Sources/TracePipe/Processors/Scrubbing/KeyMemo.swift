/// A small memo of per-key decisions for the duration of one request. The keys of a decoded
/// request share their storage (the decoders intern them), so a key is recognised by its two
/// machine words — no hashing of its text and no lock — and only the first sight of each key
/// goes to the processor's shared (locked, hashed) cache.
struct KeyMemo<Value> {
    /// Room for the distinct keys of a typical request (a few dozen) without two of them
    /// evicting each other span after span.
    private static var size: Int { 128 }
    /// Slots looked at after a key's own before one is given up (and overwritten).
    private static var probes: Int { 8 }
    /// The memo keeps each key it saw alive, so equal words always mean the same string.
    private var keys: [String?]
    private var values: [Value?]

    init() {
        assert(MemoryLayout<String?>.size == 16, "a String (or none) is two machine words")
        keys = Array(repeating: nil, count: Self.size)
        values = Array(repeating: nil, count: Self.size)
    }

    mutating func value(for key: String, compute: () -> Value) -> Value {
        let w = StringWords.of(key)
        let home = Int(truncatingIfNeeded: StringWords.mix(w) >> 57)
        // A slot's key is compared by its stored words, read in place: copying the key out
        // (to compare it) would retain and release it, for every attribute of every span. An
        // empty slot's words (nil) never equal a string's.
        let (slot, hit) = keys.withUnsafeBufferPointer { stored -> (Int, Bool) in
            let raw = UnsafeRawPointer(stored.baseAddress!)
            for p in 0..<Self.probes {
                let slot = (home &+ p) & (Self.size - 1)
                let at = raw + slot &* MemoryLayout<String?>.stride
                if at.load(as: UInt64.self) == w.0 && at.load(fromByteOffset: 8, as: UInt64.self) == w.1 { return (slot, true) }
                if stored[slot] == nil { return (slot, false) }
            }
            // No empty slot on the probe path: the key's own is overwritten (the memo is only a shortcut).
            return (home, false)
        }
        if hit, let v = values[slot] { return v }
        let v = compute()
        keys[slot] = key
        values[slot] = v
        return v
    }
}
