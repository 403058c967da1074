/// A 16-byte trace id held as two big-endian halves, so it is compact, hashable and cheap to copy.
/// The all-zero value is the "absent"/invalid id, as in OTLP.
public struct TraceID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Bytes 0..<8 of the id, big-endian.
    public var high: UInt64
    /// Bytes 8..<16 of the id, big-endian.
    public var low: UInt64

    public static let zero = TraceID(high: 0, low: 0)

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Builds an id from exactly 16 bytes; returns nil for any other length.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        self.init(high: h, low: l)
    }

    public var isZero: Bool { high == 0 && low == 0 }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: high >> UInt64(s))) }
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: low >> UInt64(s))) }
        return out
    }

    /// Lower-case hex, 32 characters.
    public var hex: String { Hex.string(high) + Hex.string(low) }
    public var description: String { hex }

    public static func < (a: TraceID, b: TraceID) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }
}

/// An 8-byte span id held as one big-endian integer. Zero means "absent".
public struct SpanID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt64

    public static let zero = SpanID(0)

    public init(_ value: UInt64) { self.value = value }

    /// Builds an id from exactly 8 bytes; returns nil for any other length.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 8 else { return nil }
        var v: UInt64 = 0
        for b in bytes { v = v << 8 | UInt64(b) }
        self.init(v)
    }

    public var isZero: Bool { value == 0 }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * $0)) }
    }

    public var hex: String { Hex.string(value) }
    public var description: String { hex }

    public static func < (a: SpanID, b: SpanID) -> Bool { a.value < b.value }
}

/// Hex helpers shared by the ids and the codecs.
public enum Hex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// 16 lower-case hex digits of `v`.
    public static func string(_ v: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buf in
            for i in 0..<16 {
                buf[i] = digits[Int((v >> UInt64(60 - 4 * i)) & 0xF)]
            }
            return 16
        }
    }

    /// Value of one hex digit (either case), or 0xFF when `c` is not a hex digit.
    @inline(__always)
    public static func nibble(_ c: UInt8) -> UInt8 {
        // Branch-free: digits are 0x30-0x39, letters 0x41-0x46 / 0x61-0x66.
        let digit = c &- 0x30
        let letter = (c | 0x20) &- 0x61
        if digit < 10 { return digit }
        if letter < 6 { return letter &+ 10 }
        return 0xFF
    }
}
