import Atomics
import CDeflate
import CZlib
import Logging
import NIOCore

/// The container formats zlib speaks: gzip (RFC 1952), zlib (RFC 1950; HTTP's "deflate").
public enum ZlibFormat: Sendable {
    case gzip
    case zlib

    var windowBits: Int32 { self == .gzip ? 15 + 16 : 15 }
}

public struct ZlibError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// A reusable compressor for whole messages, one per sending task so its state is allocated once.
/// It uses libdeflate when its shared library is present (about 2.4x zlib's speed at level 1, with
/// slightly smaller output; loaded at run time, see `CDeflate`), and zlib otherwise.
public final class Deflater {
    private enum Engine {
        case libdeflate(UnsafePointer<tp_deflate_api>, UnsafeMutableRawPointer)
        /// zlib keeps a pointer back to the stream, so it lives at one heap address throughout.
        case zlib(UnsafeMutablePointer<z_stream>)
    }

    private let engine: Engine
    public let format: ZlibFormat
    public let level: Int32

    /// Which engine compresses: "libdeflate" or "zlib" (for logs and tests).
    public var engineName: String {
        if case .libdeflate = engine { return "libdeflate" }
        return "zlib"
    }

    /// Whether libdeflate's shared library could be loaded on this machine.
    public static var libdeflateAvailable: Bool { tp_deflate_api_get() != nil }

    /// Says once per process, for an exporter that compresses, when zlib stands in for libdeflate.
    public static func noteEngine(_ logger: Logger) {
        guard !libdeflateAvailable, !engineNoted.exchange(true, ordering: .relaxed) else { return }
        logger.notice("libdeflate.so.0 is not installed: compressing export bodies with zlib, about 2.4x slower at level 1 (Debian: apt-get install libdeflate0)")
    }

    private static let engineNoted = ManagedAtomic(false)

    /// `level` 1 (fastest) … 9 (smallest; libdeflate goes to 12), or -1 for the default (6).
    /// `preferLibdeflate: false` forces zlib (tests compare both).
    public init(format: ZlibFormat, level: Int32, preferLibdeflate: Bool = true) throws {
        self.format = format
        self.level = level
        let l = level < 0 ? 6 : level
        guard (0...12).contains(l) else {
            throw ZlibError(description: "cannot create a compressor at level \(level) (expected 1..9 or -1)")
        }
        if preferLibdeflate, let api = tp_deflate_api_get(), let c = api.pointee.alloc_compressor(l) {
            engine = .libdeflate(api, c)
            return
        }
        let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        s.initialize(to: z_stream())
        let rc = deflateInit2_(s, min(l, 9), Z_DEFLATED, format.windowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            s.deallocate()
            throw ZlibError(description: "cannot create a compressor at level \(level) (zlib error \(rc))")
        }
        engine = .zlib(s)
    }

    deinit {
        switch engine {
        case .libdeflate(let api, let c): api.pointee.free_compressor(c)
        case .zlib(let s):
            deflateEnd(s)
            s.deallocate()
        }
    }

    /// Compresses `input` as one complete gzip/zlib member.
    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = self.bound(input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            initialized = compress(input, into: UnsafeMutableRawBufferPointer(out))
        }
    }

    /// Compresses `input` as one complete gzip/zlib member straight into `buffer`'s writable
    /// bytes (no intermediate array and copy, for multi-megabyte export bodies).
    public func compress(_ input: UnsafeRawBufferPointer, appendingTo buffer: inout ByteBuffer) {
        let bound = self.bound(input.count)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
            compress(input, into: out)
        }
    }

    private func bound(_ count: Int) -> Int {
        switch engine {
        case .libdeflate(let api, let c):
            switch format {
            case .gzip: return api.pointee.gzip_compress_bound(c, count)
            case .zlib: return api.pointee.zlib_compress_bound(c, count)
            }
        case .zlib(let s):
            // Counts the wrapper the stream was set up with (gzip or zlib).
            return Int(deflateBound(s, uLong(count)))
        }
    }

    /// `out` must hold at least `bound(input.count)` bytes; returns the bytes written.
    private func compress(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        switch engine {
        case .libdeflate(let api, let c):
            let n: Int
            switch format {
            case .gzip: n = api.pointee.gzip_compress(c, input.baseAddress, input.count, out.baseAddress, out.count)
            case .zlib: n = api.pointee.zlib_compress(c, input.baseAddress, input.count, out.baseAddress, out.count)
            }
            // With a buffer of the bound's size compression cannot run out of room.
            precondition(n > 0, "libdeflate could not compress into a buffer of its own bound")
            return n
        case .zlib(let s):
            defer { deflateReset(s) }
            s.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            s.pointee.avail_in = uInt(input.count)
            s.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
            s.pointee.avail_out = uInt(out.count)
            let rc = deflate(s, Z_FINISH)
            precondition(rc == Z_STREAM_END, "zlib could not compress into a buffer of its own bound (\(rc))")
            return out.count - Int(s.pointee.avail_out)
        }
    }
}

/// Decompression with a hard cap on the output, so a small hostile body cannot expand into
/// gigabytes: past `limit` bytes it stops and throws.
public enum Inflater {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case tooLarge(limit: Int)
        case invalid(String)

        public var description: String {
            switch self {
            case .tooLarge(let l): return "decompressed body larger than \(l) bytes"
            case .invalid(let m): return m
            }
        }
    }

    public static func decompress(_ input: UnsafeRawBufferPointer, format: ZlibFormat, limit: Int) throws(Failure) -> [UInt8] {
        // Name a wrong header plainly (as Go's readers do) rather than with zlib's generic text.
        switch format {
        case .gzip:
            guard input.count >= 2, input[0] == 0x1F, input[1] == 0x8B else { throw .invalid("gzip: invalid header") }
        case .zlib:
            guard input.count >= 2, input[0] & 0x0F == 8, (UInt16(input[0]) << 8 | UInt16(input[1])) % 31 == 0 else {
                throw .invalid("zlib: invalid header")
            }
        }
        // zlib keeps a pointer back to the stream, so it lives at one heap address throughout.
        let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        s.initialize(to: z_stream())
        defer { s.deallocate() }
        let rc0 = inflateInit2_(s, format.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc0 == Z_OK else { throw .invalid("inflateInit failed (\(rc0))") }
        let result = { () -> Result<[UInt8], Failure> in
            defer { inflateEnd(s) }
            var out = [UInt8]()
            out.reserveCapacity(min(limit, max(4096, input.count * 4)))
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            s.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            s.pointee.avail_in = uInt(input.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBytes { c -> (Int32, Int) in
                    s.pointee.next_out = c.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    s.pointee.avail_out = uInt(c.count)
                    let rc = inflate(s, Z_NO_FLUSH)
                    return (rc, c.count - Int(s.pointee.avail_out))
                }
                if out.count + produced > limit { return .failure(.tooLarge(limit: limit)) }
                out.append(contentsOf: chunk[0..<produced])
                switch rc {
                case Z_STREAM_END:
                    // gzip allows several members back to back (as `cat a.gz b.gz`): read them all.
                    if format == .gzip && s.pointee.avail_in > 0 {
                        inflateReset(s)
                        continue
                    }
                    return .success(out)
                case Z_OK:
                    continue
                case Z_BUF_ERROR where s.pointee.avail_in == 0:
                    return .failure(.invalid("\(format == .gzip ? "gzip" : "zlib"): unexpected EOF"))
                default:
                    let message = s.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                    return .failure(.invalid("\(format == .gzip ? "gzip" : "zlib"): \(message)"))
                }
            }
        }()
        return try result.get()
    }
}
