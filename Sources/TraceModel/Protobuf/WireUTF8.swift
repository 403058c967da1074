/// Strings from wire bytes that must be valid UTF-8. ASCII (almost every string in traces) is
/// checked eight bytes at a time and needs no further validation; the rest goes through the
/// standard library's validating initialiser, which is generic and much slower.
enum WireUTF8 {
    @inline(__always)
    static func string(validating raw: UnsafeRawBufferPointer) -> String? {
        if isASCII(raw) { return String(decoding: raw, as: UTF8.self) }
        return String(validating: raw, as: UTF8.self)
    }

    @inline(__always) static func isASCII(_ raw: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        var acc: UInt64 = 0
        while i &+ 8 <= raw.count {
            acc |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        while i < raw.count {
            acc |= UInt64(raw[i])
            i &+= 1
        }
        return acc & 0x8080_8080_8080_8080 == 0
    }
}
