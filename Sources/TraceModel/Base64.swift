/// Standard base64 (RFC 4648 §4, with padding), the form OTLP JSON uses for `bytesValue`.
public enum Base64 {
    public struct InvalidInput: Error {
        /// Index of the first offending character.
        public var index: Int
    }

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let reverse: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func encode<C: Collection>(_ bytes: C, into out: inout [UInt8]) where C.Element == UInt8 {
        out.reserveCapacity(out.count + (bytes.count + 2) / 3 * 4)
        var it = bytes.makeIterator()
        while let b0 = it.next() {
            let b1 = it.next()
            let b2 = it.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int((b1! & 0x0F) << 2 | (b2 ?? 0) >> 6)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(b2! & 0x3F)])
        }
    }

    public static func decode(_ s: String) throws(InvalidInput) -> [UInt8] {
        let bytes = Array(s.utf8)
        let result = bytes.withUnsafeBytes { raw in Result { () throws(InvalidInput) in try decode(raw) } }
        return try result.get()
    }

    public static func decode(_ raw: UnsafeRawBufferPointer) throws(InvalidInput) -> [UInt8] {
        let n = raw.count
        guard n % 4 == 0 else { throw InvalidInput(index: n - n % 4) }
        var out = [UInt8]()
        out.reserveCapacity(n / 4 * 3)
        var i = 0
        while i < n {
            let last = i + 4 == n
            var quad: UInt32 = 0
            var pad = 0
            for k in 0..<4 {
                let c = raw[i + k]
                if c == UInt8(ascii: "=") && last && k >= 2 {
                    // Padding only at the end: "x=" must be followed by "=".
                    if k == 2 && raw[i + 3] != UInt8(ascii: "=") { throw InvalidInput(index: i + 3) }
                    pad += 1
                    quad <<= 6
                    continue
                }
                let v = reverse[Int(c)]
                guard v != 0xFF, pad == 0 else { throw InvalidInput(index: i + k) }
                quad = quad << 6 | UInt32(v)
            }
            out.append(UInt8(truncatingIfNeeded: quad >> 16))
            if pad < 2 { out.append(UInt8(truncatingIfNeeded: quad >> 8)) }
            if pad < 1 { out.append(UInt8(truncatingIfNeeded: quad)) }
            i += 4
        }
        return out
    }
}
