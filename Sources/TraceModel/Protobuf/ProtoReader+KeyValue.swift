/// The attribute layout every SDK and the collector write: a key (field 1) and a value (field 2)
/// holding one string, bool, int or double, each field once. Read here straight from
/// the bytes, it skips the generic decode's nested loops, placeholder and error bookkeeping,
/// which cost more per attribute than the strings themselves.
extension ProtoReader {
    /// With `pos` at the length of a KeyValue message: the attribute if it has that layout, with
    /// `pos` after it; else nil with `pos` unchanged, for the generic decode (which also reports
    /// any error: invalid UTF-8, truncation, wrong wire types).
    @inline(__always)
    mutating func canonicalKeyValue(keys: inout StringInterner, values: inout StringInterner) -> KeyValue? {
        var p = pos
        guard let n = boundedVarint(&p, end), n <= end &- p else { return nil }
        let messageEnd = p &+ n
        var key: String?
        var value: AnyValue?
        // Two fields, in either order: SDKs write the key first, the collector (and so our
        // encoder) the value first.
        while p < messageEnd {
            let tag = base[p]
            p &+= 1
            guard let count = boundedVarint(&p, messageEnd), count <= messageEnd &- p else { return nil }
            let fieldEnd = p &+ count
            if tag == 0x0A && key == nil {
                guard let k = interned(at: p, count: count, &keys) else { return nil }
                key = k
            } else if tag == 0x12 && value == nil {
                guard let v = anyValue(p, fieldEnd, &values) else { return nil }
                value = v
            } else {
                return nil
            }
            p = fieldEnd
        }
        guard let key, let value else { return nil }
        pos = messageEnd
        return KeyValue(key: key, value: value)
    }

    /// An AnyValue of exactly one string, bool, int or double member filling `p..<end`.
    @inline(__always)
    private func anyValue(_ start: Int, _ end: Int, _ values: inout StringInterner) -> AnyValue? {
        var p = start
        guard p < end else { return nil }
        let tag = base[p]
        p &+= 1
        switch tag {
        case 0x0A: // stringValue
            guard let count = boundedVarint(&p, end), count == end &- p, let s = interned(at: p, count: count, &values) else { return nil }
            return .string(s)
        case 0x10: // boolValue
            guard let v = boundedVarint(&p, end), p == end else { return nil }
            return .bool(v != 0)
        case 0x18: // intValue
            guard let v = wideVarint(&p, end), p == end else { return nil }
            return .int(Int64(bitPattern: v))
        case 0x21: // doubleValue
            guard end &- p == 8 else { return nil }
            return .double(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self))))
        default:
            return nil
        }
    }

    /// A varint of at most 4 bytes (lengths under 256 MiB) ending before `limit`, else nil.
    @inline(__always)
    private func boundedVarint(_ p: inout Int, _ limit: Int) -> Int? {
        var v = 0
        var shift = 0
        while p < limit && shift < 28 {
            let b = base[p]
            p &+= 1
            v |= Int(b & 0x7F) &<< shift
            if b < 0x80 { return v }
            shift &+= 7
        }
        return nil
    }

    /// A 64-bit varint (negative ints take 10 bytes) ending before `limit`, else nil.
    @inline(__always)
    private func wideVarint(_ p: inout Int, _ limit: Int) -> UInt64? {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while p < limit && shift <= 63 {
            let b = base[p]
            p &+= 1
            if shift == 63 && b > 1 { return nil }
            v |= UInt64(b & 0x7F) &<< shift
            if b < 0x80 { return v }
            shift &+= 7
        }
        return nil
    }
}
