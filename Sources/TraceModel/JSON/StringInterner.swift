/// A small direct-mapped cache of strings seen in one request. Attribute keys and many values
/// ("http.request.method", "/api/v1/payments", service names) repeat in every span: a hit costs a
/// hash and a compare instead of an allocation and a copy, and the decoded spans share storage.
/// Strings of up to 15 bytes are stored inline by Swift anyway and bypass the cache.
struct StringInterner {
    private var slots: [String?]
    private let mask: Int

    init(slots: Int = 256) {
        self.slots = Array(repeating: nil, count: slots)
        self.mask = slots - 1
    }

    /// `raw` must be ASCII (so it is valid UTF-8 without checking).
    @inline(__always)
    mutating func string(ascii raw: UnsafeRawBufferPointer) -> String {
        let n = raw.count
        if n <= 15 { return String(decoding: raw, as: UTF8.self) }
        let head = raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        let tail = raw.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
        let h = (head &* 0x9E37_79B9_7F4A_7C15) ^ (tail &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(n)
        let i = Int(truncatingIfNeeded: h >> 40) & mask
        if var cached = slots[i] {
            let same = cached.withUTF8 { c in
                c.count == n && memcmpEqual(c.baseAddress!, raw.baseAddress!, n)
            }
            if same { return cached }
        }
        let s = String(decoding: raw, as: UTF8.self)
        slots[i] = s
        return s
    }
}

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
