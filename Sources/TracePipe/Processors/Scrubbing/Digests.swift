import Crypto

/// The hash functions the scrubbing processors offer (`attributes` hash: SHA-256; `redaction`
/// `hash_function`: MD5, SHA-1, SHA3-256), from swift-crypto (BoringSSL, which uses the CPU's
/// SHA instructions where it has them). They make values unreadable and joinable, not
/// secret-keyed. Values are hashed in place and the digest written straight into the caller's
/// buffer as hex: no allocation but the resulting string.
enum Digest {
    enum Kind: Sendable {
        case md5, sha1, sha256, sha3_256

        /// Digest length in bytes.
        var length: Int {
            switch self {
            case .md5: 16
            case .sha1: 20
            case .sha256, .sha3_256: 32
            }
        }
    }

    /// The lower-case hex digest of `bytes`.
    static func hex(_ kind: Kind, of bytes: UnsafeRawBufferPointer) -> String {
        let n = 2 * kind.length
        return String(unsafeUninitializedCapacity: n) { out in
            writeHexDigest(kind, of: bytes, to: out.baseAddress!)
            return n
        }
    }

    static func hex(_ kind: Kind, of text: String) -> String {
        var text = text
        return text.withUTF8 { hex(kind, of: UnsafeRawBufferPointer($0)) }
    }

    /// Writes the `2 * kind.length` hex digits of `bytes`' digest at `out`.
    static func writeHexDigest(_ kind: Kind, of bytes: UnsafeRawBufferPointer, to out: UnsafeMutablePointer<UInt8>) {
        switch kind {
        case .md5: hexDigest(Insecure.MD5.self, bytes, out)
        case .sha1: hexDigest(Insecure.SHA1.self, bytes, out)
        case .sha256: hexDigest(SHA256.self, bytes, out)
        case .sha3_256: hexDigest(SHA3_256.self, bytes, out)
        }
    }

    /// The bytes go in as one buffer (`update(bufferPointer:)`), not through `DataProtocol`'s
    /// regions, which cost more than a short value's hash.
    @inline(__always)
    private static func hexDigest<H: HashFunction>(_ hash: H.Type, _ bytes: UnsafeRawBufferPointer, _ out: UnsafeMutablePointer<UInt8>) {
        var h = H()
        h.update(bufferPointer: bytes)
        h.finalize().withUnsafeBytes { writeHex($0, to: out) }
    }

    /// Writes `2 * bytes.count` lower-case hex digits at `out`.
    @inline(__always)
    static func writeHex(_ bytes: UnsafeRawBufferPointer, to out: UnsafeMutablePointer<UInt8>) {
        for (i, b) in bytes.enumerated() {
            out[2 &* i] = hexDigit(b >> 4)
            out[2 &* i &+ 1] = hexDigit(b & 0xF)
        }
    }

    @inline(__always)
    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 &+ v : 0x57 &+ v }
}
