import CShaNI
import Foundation

/// The hash functions the scrubbing processors offer (`attributes` hash: SHA-256; `redaction`
/// `hash_function`: MD5, SHA-1, SHA3-256), written out from their specifications (FIPS 180-4,
/// RFC 1321, FIPS 202) so that no cryptography package has to be built for four digests. They
/// make values unreadable and joinable, not secret-keyed. They run on every masked value, so
/// they read the input in place and keep their state on the stack: no allocation but the
/// resulting string. SHA-1 and SHA-256 run on the CPU's SHA instructions where it has them
/// (about 5x faster on a short value); the portable code is the reference the tests hold them to.
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
        let n = kind.length
        return withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { raw in
            digest(kind, of: bytes, into: raw.baseAddress!)
            return String(unsafeUninitializedCapacity: 2 * n) { out in
                writeHex(UnsafeRawBufferPointer(start: raw.baseAddress!, count: n), to: out.baseAddress!)
                return 2 * n
            }
        }
    }

    static func hex(_ kind: Kind, of text: String) -> String {
        var text = text
        return text.withUTF8 { hex(kind, of: UnsafeRawBufferPointer($0)) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
            bytes.withUnsafeBytes { writeHex($0, to: out.baseAddress!) }
            return 2 * bytes.count
        }
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

    /// Whether this CPU has the SHA extensions (x86-64 only).
    static let hasSHAInstructions = tp_sha_ni_available() != 0

    /// Writes the `kind.length` digest bytes of `bytes` at `out`. `portable`: never the SHA
    /// instructions (for tests that compare both).
    static func digest(_ kind: Kind, of bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, portable: Bool = false) {
        let accelerated = !portable && hasSHAInstructions
        switch kind {
        case .md5: md5(bytes, into: out)
        case .sha1: sha1(bytes, into: out, accelerated: accelerated)
        case .sha256: sha256(bytes, into: out, accelerated: accelerated)
        case .sha3_256: sha3_256(bytes, into: out)
        }
    }

    // The array forms, for tests and one-off callers.
    static func md5(_ message: [UInt8]) -> [UInt8] { array(.md5, message) }
    static func sha1(_ message: [UInt8]) -> [UInt8] { array(.sha1, message) }
    static func sha256(_ message: [UInt8]) -> [UInt8] { array(.sha256, message) }
    static func sha3_256(_ message: [UInt8]) -> [UInt8] { array(.sha3_256, message) }

    static func array(_ kind: Kind, _ message: [UInt8], portable: Bool = false) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: kind.length) { out, count in
            message.withUnsafeBytes { digest(kind, of: $0, into: UnsafeMutableRawPointer(out.baseAddress!), portable: portable) }
            count = kind.length
        }
    }

    // MARK: Merkle–Damgård padding (MD5, SHA-1, SHA-256)

    /// Calls `block` for each 64-byte block of the padded message: whole blocks straight from
    /// the input, the padded tail (one or two blocks) from a stack buffer.
    @inline(__always)
    private static func forEachBlock(_ message: UnsafeRawBufferPointer, bigEndianLength: Bool, _ block: (UnsafeRawPointer) -> Void) {
        let n = message.count
        let whole = n / 64 * 64
        var at = 0
        while at < whole {
            block(message.baseAddress! + at)
            at += 64
        }
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
            let t = tail.baseAddress!
            t.initializeMemory(as: UInt8.self, repeating: 0, count: 128)
            let rest = n - whole
            if rest > 0 { t.copyMemory(from: message.baseAddress! + whole, byteCount: rest) }
            t.storeBytes(of: 0x80, toByteOffset: rest, as: UInt8.self)
            let blocks = rest + 9 <= 64 ? 1 : 2
            let bits = UInt64(n) &* 8
            t.storeBytes(of: bigEndianLength ? bits.bigEndian : bits.littleEndian, toByteOffset: blocks * 64 - 8, as: UInt64.self)
            block(UnsafeRawPointer(t))
            if blocks == 2 { block(UnsafeRawPointer(t + 64)) }
        }
    }

    @inline(__always)
    private static func store(bigEndian words: UnsafeMutableBufferPointer<UInt32>, to out: UnsafeMutableRawPointer) {
        for (i, w) in words.enumerated() { out.storeBytes(of: w.bigEndian, toByteOffset: 4 * i, as: UInt32.self) }
    }

    // MARK: SHA-256

    private static let k256: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    private static func sha256(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, accelerated: Bool) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 72) { scratch in
            let h = UnsafeMutableBufferPointer(rebasing: scratch[64..<72])
            (h[0], h[1], h[2], h[3]) = (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a)
            (h[4], h[5], h[6], h[7]) = (0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
            if accelerated {
                forEachBlock(message, bigEndianLength: true) { tp_sha256_blocks(h.baseAddress!, $0.assumingMemoryBound(to: UInt8.self), 1) }
                store(bigEndian: h, to: out)
                return
            }
            let w = scratch
            k256.withUnsafeBufferPointer { k in
                forEachBlock(message, bigEndianLength: true) { block in
                    for i in 0..<16 { w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
                    for i in 16..<64 {
                        let s0 = w[i - 15].rotr(7) ^ w[i - 15].rotr(18) ^ (w[i - 15] >> 3)
                        let s1 = w[i - 2].rotr(17) ^ w[i - 2].rotr(19) ^ (w[i - 2] >> 10)
                        w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
                    }
                    var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
                    for i in 0..<64 {
                        let t1 = hh &+ (e.rotr(6) ^ e.rotr(11) ^ e.rotr(25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                        let t2 = (a.rotr(2) ^ a.rotr(13) ^ a.rotr(22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                        (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
                    }
                    h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
                }
            }
            store(bigEndian: h, to: out)
        }
    }

    // MARK: SHA-1

    private static func sha1(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, accelerated: Bool) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 85) { scratch in
            let h = UnsafeMutableBufferPointer(rebasing: scratch[80..<85])
            (h[0], h[1], h[2], h[3], h[4]) = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
            if accelerated {
                forEachBlock(message, bigEndianLength: true) { tp_sha1_blocks(h.baseAddress!, $0.assumingMemoryBound(to: UInt8.self), 1) }
                store(bigEndian: h, to: out)
                return
            }
            let w = scratch
            forEachBlock(message, bigEndianLength: true) { block in
                for i in 0..<16 { w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
                for i in 16..<80 { w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotl(1) }
                var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
                // The four stages as loops of their own: no per-round choice of function.
                @inline(__always) func round(_ f: UInt32, _ k: UInt32, _ wi: UInt32) {
                    let t = a.rotl(5) &+ f &+ e &+ k &+ wi
                    (e, d, c, b, a) = (d, c, b.rotl(30), a, t)
                }
                for i in 0..<20 { round((b & c) | (~b & d), 0x5A827999, w[i]) }
                for i in 20..<40 { round(b ^ c ^ d, 0x6ED9EBA1, w[i]) }
                for i in 40..<60 { round((b & c) | (b & d) | (c & d), 0x8F1BBCDC, w[i]) }
                for i in 60..<80 { round(b ^ c ^ d, 0xCA62C1D6, w[i]) }
                h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
            }
            store(bigEndian: h, to: out)
        }
    }

    // MARK: MD5

    private static let md5Shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                              5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                              4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                              6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    private static let md5K: [UInt32] = (0..<64).map { i in UInt32(truncatingIfNeeded: Int64(abs(sin(Double(i + 1))) * 4_294_967_296)) }

    private static func md5(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        var a0: UInt32 = 0x67452301, b0: UInt32 = 0xefcdab89, c0: UInt32 = 0x98badcfe, d0: UInt32 = 0x10325476
        md5K.withUnsafeBufferPointer { kk in
            md5Shifts.withUnsafeBufferPointer { shifts in
                forEachBlock(message, bigEndianLength: false) { block in
                    @inline(__always) func w(_ g: Int) -> UInt32 { UInt32(littleEndian: block.loadUnaligned(fromByteOffset: 4 * g, as: UInt32.self)) }
                    var (a, b, c, d) = (a0, b0, c0, d0)
                    for i in 0..<64 {
                        var f: UInt32
                        let g: Int
                        switch i {
                        case 0..<16: f = (b & c) | (~b & d); g = i
                        case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                        case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                        default: f = c ^ (b | ~d); g = (7 * i) % 16
                        }
                        f = f &+ a &+ kk[i] &+ w(g)
                        (a, d, c) = (d, c, b)
                        b = b &+ f.rotl(shifts[i])
                    }
                    a0 &+= a; b0 &+= b; c0 &+= c; d0 &+= d
                }
            }
        }
        out.storeBytes(of: a0.littleEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: b0.littleEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: c0.littleEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: d0.littleEndian, toByteOffset: 12, as: UInt32.self)
    }

    // MARK: SHA3-256 (Keccak-f[1600], rate 136 bytes)

    private static let keccakRC: [UInt64] = [
        0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000, 0x000000000000808B, 0x0000000080000001,
        0x8000000080008081, 0x8000000000008009, 0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
        0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003, 0x8000000000008002, 0x8000000000000080,
        0x000000000000800A, 0x800000008000000A, 0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
    ]
    private static let keccakRot: [UInt64] = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]

    /// Keccak-f[1600] on `s` (25 lanes), with `scratch` (30 lanes) for the θ column sums and
    /// the ρπ output.
    private static func keccakF(_ s: UnsafeMutablePointer<UInt64>, _ scratch: UnsafeMutablePointer<UInt64>) {
        let c = scratch, b = scratch + 5
        keccakRC.withUnsafeBufferPointer { rc in
            keccakRot.withUnsafeBufferPointer { rot in
                for round in 0..<24 {
                    for x in 0..<5 { c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20] }
                    for x in 0..<5 {
                        let d = c[(x + 4) % 5] ^ c[(x + 1) % 5].rotl(1)
                        for y in 0..<5 { s[x + 5 * y] ^= d }
                    }
                    for x in 0..<5 {
                        for y in 0..<5 { b[y + 5 * ((2 * x + 3 * y) % 5)] = s[x + 5 * y].rotl(rot[x + 5 * y]) }
                    }
                    for x in 0..<5 {
                        for y in 0..<5 { s[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]) }
                    }
                    s[0] ^= rc[round]
                }
            }
        }
    }

    private static func sha3_256(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        let rate = 136
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25 + 30 + rate / 8) { mem in
            let state = mem.baseAddress!, scratch = state + 25, tail = UnsafeMutableRawPointer(state + 55)
            state.initialize(repeating: 0, count: 25)
            func absorb(_ block: UnsafeRawPointer) {
                for i in 0..<(rate / 8) { state[i] ^= UInt64(littleEndian: block.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
                keccakF(state, scratch)
            }
            let n = message.count
            let whole = n / rate * rate
            var at = 0
            while at < whole {
                absorb(message.baseAddress! + at)
                at += rate
            }
            // The last block: the rest, the 0x06 domain suffix, zeros, and the final 0x80 bit.
            tail.initializeMemory(as: UInt8.self, repeating: 0, count: rate)
            if n > whole { tail.copyMemory(from: message.baseAddress! + whole, byteCount: n - whole) }
            tail.storeBytes(of: tail.load(fromByteOffset: n - whole, as: UInt8.self) | 0x06, toByteOffset: n - whole, as: UInt8.self)
            tail.storeBytes(of: tail.load(fromByteOffset: rate - 1, as: UInt8.self) | 0x80, toByteOffset: rate - 1, as: UInt8.self)
            absorb(UnsafeRawPointer(tail))
            for i in 0..<4 { out.storeBytes(of: state[i].littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        }
    }
}

extension UInt32 {
    @inline(__always) func rotr(_ n: UInt32) -> UInt32 { self >> n | self << (32 - n) }
    @inline(__always) func rotl(_ n: UInt32) -> UInt32 { self << n | self >> (32 - n) }
}

extension UInt64 {
    @inline(__always) func rotl(_ n: UInt64) -> UInt64 { n == 0 ? self : self << n | self >> (64 - n) }
}
