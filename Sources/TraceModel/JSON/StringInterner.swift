import Synchronization

/// A small direct-mapped cache of strings seen in decoded requests. Attribute keys and many values
/// ("http.request.method", "/api/v1/payments", "POST", service names) repeat in every span: a hit
/// costs a hash and a compare instead of building a `String` (and, above 15 bytes, an allocation
/// and a copy), and the decoded spans share storage.
struct StringInterner {
    fileprivate struct Slot {
        /// Byte count of `string` (-1: empty slot); 32 bits, so that the slot stays 40 bytes.
        var count: Int32 = -1
        /// The hash (high half) of the last string that missed here and was not let in: a
        /// string takes the slot only on its second miss in a row, so values seen once (ids,
        /// URLs with ids) neither cost a slot's reference count nor push out the ones that repeat.
        var lastMiss: UInt32 = 0
        var word0: UInt64 = 0
        var word1: UInt64 = 0
        var string = ""
    }

    private var slots: [Slot]
    private let mask: Int

    init(slots: Int = 256) {
        self.slots = Array(repeating: Slot(), count: slots)
        self.mask = slots - 1
    }

    /// A cache whose table a finished decode handed back (see `recycle`), else a new one. Reusing
    /// tables saves allocating, filling and freeing 10-20 KB per request, and the strings of
    /// earlier requests hit: keys and span names barely ever miss. The pool keeps those strings
    /// alive: at most 32 tables of at most 768 strings of at most 128 bytes (under 4 MB).
    static func reused(slots: Int) -> StringInterner {
        let table = recycledTables.withLock { tables -> [Slot]? in
            guard let i = tables.lastIndex(where: { $0.count == slots }) else { return nil }
            return tables.remove(at: i)
        }
        guard let table else { return StringInterner(slots: slots) }
        return StringInterner(table: table)
    }

    private init(table: [Slot]) {
        self.slots = table
        self.mask = table.count - 1
    }

    /// Hands the table to the next decode. What it keeps alive is bounded: at most
    /// `maxRecycledTables` tables of strings of at most `maxLength` bytes.
    func recycle() {
        recycledTables.withLock { tables in
            if tables.count < maxRecycledTables { tables.append(slots) }
        }
    }

    /// Strings longer than this are not cached by the decoders: statements, URLs with ids and
    /// tokens rarely repeat, while user agents (70-120 bytes) repeat in most requests.
    static let maxLength = 128

    /// `raw` must be ASCII (so it is valid UTF-8 without checking). When `overRead` is true, up to
    /// 16 bytes from `raw.baseAddress` may be read even if `raw` is shorter (it lies inside a
    /// larger buffer), which lets short strings be compared as two machine words.
    @inline(__always)
    mutating func string(ascii raw: UnsafeRawBufferPointer, overRead: Bool) -> String {
        interned(raw, overRead: overRead) { String(decoding: $0, as: UTF8.self) }!
    }

    /// As `string(ascii:overRead:)` for bytes not yet checked: nil when they are not valid UTF-8.
    /// Only a miss validates; a hit has the bytes of a string that was valid when stored, so the
    /// common case reads the bytes once (hash and compare) instead of checking them first.
    @inline(__always)
    mutating func string(utf8 raw: UnsafeRawBufferPointer, overRead: Bool) -> String? {
        interned(raw, overRead: overRead) { WireUTF8.string(validating: $0) }
    }

    @inline(__always)
    private mutating func interned(_ raw: UnsafeRawBufferPointer, overRead: Bool, make: (UnsafeRawBufferPointer) -> String?) -> String? {
        let n = raw.count
        guard n > 0, let p = raw.baseAddress else { return "" }
        // Callers pass only strings up to maxLength; a longer one is not cached (and its count fits the slot).
        guard n <= Self.maxLength else { return make(raw) }
        var w0: UInt64
        var w1: UInt64 = 0
        if n <= 16 {
            guard overRead else { return make(raw) }
            w0 = p.loadUnaligned(as: UInt64.self)
            if n < 8 {
                w0 &= (1 &<< UInt64(n &* 8)) &- 1
            } else {
                w1 = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                if n < 16 { w1 &= (1 &<< UInt64((n &- 8) &* 8)) &- 1 }
            }
        } else {
            w0 = p.loadUnaligned(as: UInt64.self)
            w1 = p.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
        }
        let h = (w0 &* 0x9E37_79B9_7F4A_7C15) ^ (w1 &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(n)
        let i = Int(truncatingIfNeeded: (h ^ (h >> 29)) >> 32) & mask
        return slots.withUnsafeMutableBufferPointer { s in
            // Compared in place: copying the slot out would retain and release its string.
            if s[i].count == Int32(truncatingIfNeeded: n) && s[i].word0 == w0 && s[i].word1 == w1 {
                if n <= 16 { return s[i].string }
                if s[i].string.withUTF8({ memcmpEqual($0.baseAddress!, p, n) }) { return s[i].string }
            }
            guard let str = make(raw) else { return nil }
            let seen = UInt32(truncatingIfNeeded: h >> 32)
            if s[i].lastMiss != seen {
                s[i].lastMiss = seen
                return str
            }
            s[i] = Slot(count: Int32(truncatingIfNeeded: n), word0: w0, word1: w1, string: str)
            return str
        }
    }
}

/// Enough for a key and a value table per event-loop thread of a large machine.
private let maxRecycledTables = 32
private let recycledTables = Mutex<[[StringInterner.Slot]]>([])

@inline(__always)
private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i &+ 8 <= n {
        if UnsafeRawPointer(a).loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i &+= 8
    }
    while i < n {
        if a[i] != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i &+= 1
    }
    return true
}
