/// Reads protobuf wire format from raw bytes with every length checked against the end of the
/// enclosing message, so truncated or hostile input throws instead of reading past the buffer.
struct ProtoReader: ~Copyable {
    let base: UnsafeRawBufferPointer
    var pos: Int
    /// End of the message being read (nested messages narrow it).
    var end: Int
    var depth = 0
    static let maxDepth = 64

    init(_ base: UnsafeRawBufferPointer) {
        self.base = base
        pos = 0
        end = base.count
    }

    @inline(__always) var atEnd: Bool { pos >= end }

    func error(_ reason: String) -> ProtobufDecodingError {
        ProtobufDecodingError(reason, offset: pos)
    }

    @inline(__always) mutating func varint() throws(ProtobufDecodingError) -> UInt64 {
        if pos < end {
            let b = base[pos]
            if b < 0x80 {
                pos &+= 1
                return UInt64(b)
            }
        }
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < end else { throw error("unexpected EOF in varint") }
            let b = base[pos]
            pos &+= 1
            if shift == 63 && b > 1 { throw error("varint overflows 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift &+= 7
            if shift > 63 { throw error("varint longer than 10 bytes") }
        }
    }

    /// The next field's number and wire type.
    @inline(__always) mutating func tag() throws(ProtobufDecodingError) -> (field: UInt32, wire: UInt8) {
        let t = try varint()
        let field = t >> 3
        guard field > 0 && field <= 0x1FFF_FFFF else { throw error("invalid field number \(field)") }
        return (UInt32(field), UInt8(t & 7))
    }

    @inline(__always) mutating func fixed64() throws(ProtobufDecodingError) -> UInt64 {
        guard end &- pos >= 8 else { throw error("unexpected EOF in fixed64") }
        let v = base.loadUnaligned(fromByteOffset: pos, as: UInt64.self)
        pos &+= 8
        return UInt64(littleEndian: v)
    }

    @inline(__always) mutating func fixed32() throws(ProtobufDecodingError) -> UInt32 {
        guard end &- pos >= 4 else { throw error("unexpected EOF in fixed32") }
        let v = base.loadUnaligned(fromByteOffset: pos, as: UInt32.self)
        pos &+= 4
        return UInt32(littleEndian: v)
    }

    /// The bytes of a length-delimited field.
    @inline(__always) mutating func lengthDelimited() throws(ProtobufDecodingError) -> UnsafeRawBufferPointer {
        let n = try varint()
        guard n <= UInt64(end &- pos) else { throw error("unexpected EOF: length \(n) runs past the end of the message") }
        let r = UnsafeRawBufferPointer(rebasing: base[pos..<(pos &+ Int(n))])
        pos &+= Int(n)
        return r
    }

    /// Enters a nested message: returns the end to restore with `exit`.
    @inline(__always) mutating func enter() throws(ProtobufDecodingError) -> Int {
        let n = try varint()
        guard n <= UInt64(end &- pos) else { throw error("unexpected EOF: length \(n) runs past the end of the message") }
        depth &+= 1
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth) levels") }
        let saved = end
        end = pos &+ Int(n)
        return saved
    }

    @inline(__always) mutating func exit(_ savedEnd: Int) {
        pos = end
        end = savedEnd
        depth &-= 1
    }

    mutating func string() throws(ProtobufDecodingError) -> String {
        let at = pos
        let raw = try lengthDelimited()
        if raw.isEmpty { return "" }
        guard let s = WireUTF8.string(validating: raw) else {
            throw ProtobufDecodingError("string is not valid UTF-8", offset: at)
        }
        return s
    }

    /// A string through `interner` when it is short (keys and repeated values are; a hit is
    /// shared storage and no validation), validated as UTF-8 either way.
    mutating func string(interner: inout StringInterner) throws(ProtobufDecodingError) -> String {
        let at = pos
        let raw = try lengthDelimited()
        guard let s = interned(at: pos &- raw.count, count: raw.count, &interner) else {
            throw ProtobufDecodingError("string is not valid UTF-8", offset: at)
        }
        return s
    }

    /// The string of the `count` bytes at `start`, through `interner` when short; nil if they
    /// are not UTF-8.
    @inline(__always)
    func interned(at start: Int, count: Int, _ interner: inout StringInterner) -> String? {
        if count == 0 { return "" }
        let raw = UnsafeRawBufferPointer(rebasing: base[start..<(start &+ count)])
        return count <= StringInterner.maxLength
            ? interner.string(utf8: raw, overRead: start &+ 16 <= base.count)
            : WireUTF8.string(validating: raw)
    }

    /// Skips a field of any wire type (groups included, within the depth bound).
    mutating func skip(_ wire: UInt8, field: UInt32) throws(ProtobufDecodingError) {
        switch wire {
        case 0: _ = try varint()
        case 1:
            guard end &- pos >= 8 else { throw error("unexpected EOF") }
            pos &+= 8
        case 2: _ = try lengthDelimited()
        case 5:
            guard end &- pos >= 4 else { throw error("unexpected EOF") }
            pos &+= 4
        case 3:
            depth &+= 1
            guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth) levels") }
            while true {
                guard !atEnd else { throw error("unexpected EOF in group") }
                let (f, w) = try tag()
                if w == 4 {
                    guard f == field else { throw error("mismatched end of group") }
                    break
                }
                try skip(w, field: f)
            }
            depth &-= 1
        default:
            throw error("illegal wire type \(wire)")
        }
    }
}
