import CZlib

/// The container formats zlib speaks: gzip (RFC 1952), zlib (RFC 1950; HTTP's "deflate").
public enum ZlibFormat: Sendable {
    case gzip
    case zlib

    var windowBits: Int32 { self == .gzip ? 15 + 16 : 15 }
}

public struct ZlibError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// A reusable deflate stream: one per sending task, reset between messages, so its buffers are
/// allocated once rather than per request.
public final class Deflater {
    private let stream: UnsafeMutablePointer<z_stream>
    public let format: ZlibFormat
    public let level: Int32

    /// `level` 1 (fastest) … 9 (smallest), or -1 for zlib's default (6).
    public init(format: ZlibFormat, level: Int32) throws {
        self.format = format
        self.level = level
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = deflateInit2_(stream, level, Z_DEFLATED, format.windowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deallocate()
            throw ZlibError(description: "deflateInit failed (\(rc)); is the compression level \(level) valid (1..9 or -1)?")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// Compresses `input` as one complete gzip/zlib member.
    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        deflateReset(stream)
        let bound = Int(deflateBound(stream, uLong(input.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let produced = out.withUnsafeMutableBytes { o -> Int in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(input.count)
            stream.pointee.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(o.count)
            // deflateBound guarantees one Z_FINISH call completes.
            let rc = deflate(stream, Z_FINISH)
            precondition(rc == Z_STREAM_END, "deflate with a deflateBound-sized buffer must finish (rc \(rc))")
            return o.count - Int(stream.pointee.avail_out)
        }
        out.removeLast(bound - produced)
        return out
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
