import NIOCore

/// A request body's `Content-Encoding`, undone with a cap on the result (shared by the HTTP
/// receivers; gRPC's message compression is the call handler's).
enum BodyDecompression {
    enum Failure: Error, Equatable {
        /// Decompressed, the body is larger than the receiver's limit.
        case tooLarge
        /// Not valid in its encoding (a bad header, a cut-off stream): the message says where.
        case invalid(String)
        /// An encoding this receiver does not take.
        case unsupported(String)
    }

    /// The body as sent, inflated for `gzip` and `deflate` (and `zlib` where `acceptsZlibName`,
    /// as Zipkin's receiver does); unchanged for none or `identity`.
    static func decode(_ body: ByteBuffer, contentEncoding: String, limit: Int, acceptsZlibName: Bool = false) -> Result<ByteBuffer, Failure> {
        let format: ZlibFormat
        switch contentEncoding {
        case "", "identity": return .success(body)
        case "gzip": format = .gzip
        case "deflate": format = .zlib
        case "zlib" where acceptsZlibName: format = .zlib
        default: return .failure(.unsupported(contentEncoding))
        }
        do {
            let inflated = try body.withUnsafeReadableBytes { raw in try Inflater.decompress(raw, format: format, limit: limit) }
            return .success(ByteBuffer(bytes: inflated))
        } catch Inflater.Failure.tooLarge {
            return .failure(.tooLarge)
        } catch {
            return .failure(.invalid("\(error)"))
        }
    }
}
