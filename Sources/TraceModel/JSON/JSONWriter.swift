/// Appends JSON tokens to a byte buffer. Strings are escaped as Go's encoder does with HTML
/// escaping off: quote, backslash and control characters only, so non-ASCII and `<>&` stay readable.
struct JSONWriter {
    var out: [UInt8]

    init(capacity: Int) {
        out = []
        out.reserveCapacity(capacity)
    }

    @inline(__always) mutating func raw(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always) mutating func byte(_ b: UInt8) { out.append(b) }

    mutating func string(_ s: String) {
        // Borrow the bytes in place when the string has contiguous storage (it nearly always has).
        if s.utf8.withContiguousStorageIfAvailable({ buf in stringBytes(buf) }) == nil {
            var t = s
            t.withUTF8 { stringBytes($0) }
        }
    }

    private mutating func stringBytes(_ buf: UnsafeBufferPointer<UInt8>) {
        out.append(0x22)
        var clean = 0
        var i = 0
        let n = buf.count
        // Most strings need no escaping: find out 8 bytes at a time.
        if let base = buf.baseAddress {
            let raw = UnsafeRawPointer(base)
            let lows: UInt64 = 0x0101_0101_0101_0101
            while i &+ 8 <= n {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let quote = w ^ (lows &* 0x22)
                let slash = w ^ (lows &* 0x5C)
                // High bit set where a byte is '"', '\\' or < 0x20 (bytes >= 0x80 are masked out by ~w).
                let special = (((quote &- lows) & ~quote) | ((slash &- lows) & ~slash) | (w &- (lows &* 0x20))) & ~w
                if special & (lows &* 0x80) != 0 { break }
                i &+= 8
            }
        }
        while i < n {
            let c = buf[i]
            if c < 0x20 || c == 0x22 || c == 0x5C {
                if i > clean { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[clean..<i])) }
                escape(c)
                clean = i + 1
            }
            i += 1
        }
        if n > clean { out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[clean..<n])) }
        out.append(0x22)
    }

    private mutating func escape(_ c: UInt8) {
        switch c {
        case 0x22: raw("\\\"")
        case 0x5C: raw("\\\\")
        case 0x0A: raw("\\n")
        case 0x0D: raw("\\r")
        case 0x09: raw("\\t")
        case 0x08: raw("\\b")
        case 0x0C: raw("\\f")
        default:
            raw("\\u00")
            out.append(Hex.digits[Int(c >> 4)])
            out.append(Hex.digits[Int(c & 0xF)])
        }
    }

    /// An unsigned integer in quotes (OTLP/JSON's 64-bit numbers).
    @inline(__always) mutating func quotedUInt(_ v: UInt64) {
        byte(0x22)
        uint(v)
        byte(0x22)
    }

    /// An id in quotes as lower-case hex: one or two 64-bit words.
    @inline(__always) mutating func quotedHex(_ high: UInt64, _ low: UInt64? = nil) {
        byte(0x22)
        hex(high)
        if let low { hex(low) }
        byte(0x22)
    }

    /// An unsigned integer as plain digits.
    mutating func uint(_ v: UInt64) {
        if v < 10 {
            out.append(UInt8(ascii: "0") &+ UInt8(v))
            return
        }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch: enough for 20 digits
        withUnsafeMutableBytes(of: &tmp) { scratch in
            var i = 24
            var x = v
            while x > 0 {
                i -= 1
                scratch[i] = UInt8(ascii: "0") &+ UInt8(x % 10)
                x /= 10
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[i..<24]))
        }
    }

    mutating func int(_ v: Int64) {
        if v < 0 {
            out.append(UInt8(ascii: "-"))
            uint(v.magnitude)
        } else {
            uint(UInt64(v))
        }
    }

    /// A double as Go's encoder writes it: integral values without ".0", NaN/±Inf as strings.
    mutating func double(_ d: Double) {
        if d.isNaN { raw("\"NaN\""); return }
        if d.isInfinite { d > 0 ? raw("\"Infinity\"") : raw("\"-Infinity\""); return }
        if d == 0 { out.append(UInt8(ascii: "0")); return }
        if d == d.rounded(), abs(d) < 1e15 {
            int(Int64(d))
            return
        }
        var text = d.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        out.append(contentsOf: text.utf8)
    }

    mutating func hex(_ v: UInt64) {
        for i in 0..<16 {
            out.append(Hex.digits[Int((v >> UInt64(60 - 4 * i)) & 0xF)])
        }
    }
}

/// JSON strings for the JSON tracepipe writes outside the codecs (logs, the health check's detail),
/// escaped as the encoders escape.
public enum JSONText {
    /// Appends `s` as a JSON string literal.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        var w = JSONWriter(capacity: 0)
        swap(&w.out, &out)
        w.string(s)
        swap(&w.out, &out)
    }
}
