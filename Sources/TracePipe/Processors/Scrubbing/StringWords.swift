/// A `String` as its two machine words, and a mix of them for picking a slot: the per-request
/// memos recognise a string by these (decoded strings share storage, short ones are inline),
/// without reading its bytes or touching its reference count.
enum StringWords {
    @inline(__always)
    static func of(_ s: String) -> (UInt64, UInt64) {
        unsafeBitCast(s, to: (UInt64, UInt64).self)
    }

    /// Well-mixed high bits: callers take as many of the top bits as they have slots for.
    @inline(__always)
    static func mix(_ w: (UInt64, UInt64)) -> UInt64 {
        (w.0 ^ (w.1 &* 0x9E37_79B9_7F4A_7C15)) &* 0xBF58_476D_1CE4_E5B9
    }
}
