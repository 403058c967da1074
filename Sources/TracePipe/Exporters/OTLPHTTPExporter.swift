import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import TraceModel

/// Sends OTLP/HTTP requests (protobuf or JSON, gzip by default) and reads the answers the way
/// OTLP/HTTP defines them: 2xx success (with partial success), 429/502/503/504 and network errors
/// retryable with Retry-After, everything else permanent. A multi-tenant Tempo's "no org id"
/// answer is permanent too (retrying cannot add the missing X-Scope-OrgID header).
public struct OTLPHTTPSender: ExportSender {
    let config: OTLPHTTPExporterConfig
    let tls: NIOSSLContext?
    let group: any EventLoopGroup
    /// Encoding buffers kept between batches (see `ProtobufEncodeStorage`), shared by the lanes.
    let encodeBuffers = EncodeBufferPool()

    public init(config: OTLPHTTPExporterConfig, group: any EventLoopGroup, logger: Logger) throws {
        self.config = config
        self.group = group
        tls = config.target.tls ? try config.tls.makeContext() : nil
        if config.compression != .none { Deflater.noteEngine(logger) }
    }

    public func makeLane() throws -> any ExportLane {
        OTLPHTTPLane(sender: self, deflater: try config.compression == .none ? nil
            : Deflater(format: config.compression == .gzip ? .gzip : .zlib, level: config.compressionLevel))
    }

    static let userAgent = "tracepipe/\(TracePipeInfo.version) (linux)"
}

// Sendable by contract: only the owning consumer task calls `send` (and so uses the
// non-thread-safe Deflater); `close` only touches the connection, which is thread-safe.
final class OTLPHTTPLane: ExportLane, @unchecked Sendable {
    let sender: OTLPHTTPSender
    let connection: HTTPClientConnection
    let deflater: Deflater?
    let headers: HTTPHeaders

    init(sender: OTLPHTTPSender, deflater: Deflater?) {
        self.sender = sender
        self.deflater = deflater
        let c = sender.config
        connection = HTTPClientConnection(target: c.target, tls: sender.tls, serverName: c.tls.serverNameOverride, group: sender.group)
        var h = HTTPHeaders()
        h.add(name: "Content-Type", value: c.encoding == .proto ? "application/x-protobuf" : "application/json")
        h.add(name: "User-Agent", value: OTLPHTTPSender.userAgent)
        if c.compression == .gzip { h.add(name: "Content-Encoding", value: "gzip") }
        if c.compression == .zlib { h.add(name: "Content-Encoding", value: "deflate") }
        for (name, value) in c.headers { h.replaceOrAdd(name: name, value: value) }
        headers = h
    }

    func close() {
        connection.close()
    }

    func send(_ data: TraceData, headerEdits: [HeaderEdit], timeout: Duration?) async throws(ExportError) -> ExportOutcome {
        let c = sender.config
        var body = ByteBuffer()
        let encode: (UnsafeRawBufferPointer) -> Void = { raw in
            if let d = self.deflater {
                d.compress(raw, appendingTo: &body)
            } else {
                body = ByteBuffer(bytes: raw)
            }
        }
        if c.encoding == .proto {
            let storage = sender.encodeBuffers.take()
            OTLPProtobufEncoder.withEncoded(data, reusing: storage, encode)
            sender.encodeBuffers.put(storage)
        } else {
            OTLPJSONEncoder.encode(data).withUnsafeBytes(encode)
        }
        let sentHeaders = headerEdits.isEmpty ? headers : headers.applying(headerEdits)
        let response: HTTPClientResponse
        do {
            response = try await connection.send(headers: sentHeaders, body: body, timeout: timeout ?? c.timeout.duration)
        } catch {
            throw .retryable("POST \(c.target): \(error)", retryAfter: nil)
        }
        return try Self.interpret(response, target: c.target, sentTenant: sentHeaders.contains(name: "X-Scope-OrgID"))
    }

    static func interpret(_ r: HTTPClientResponse, target: HTTPTarget, sentTenant: Bool) throws(ExportError) -> ExportOutcome {
        let code = Int(r.status.code)
        let contentType = r.headers.first(name: "Content-Type")?.lowercased() ?? ""
        if (200..<300).contains(code) {
            guard r.body.readableBytes > 0 else { return .ok }
            let parsed: ExportTraceResponse? = r.body.withUnsafeReadableBytes { raw in
                if contentType.hasPrefix("application/x-protobuf") { return try? ExportTraceResponse.decodeProtobuf(raw) }
                if contentType.hasPrefix("application/json") { return try? ExportTraceResponse.decodeJSON(raw) }
                return ExportTraceResponse()
            }
            guard let parsed else {
                throw .permanent("POST \(target) answered HTTP \(code) with a body that is not an ExportTraceServiceResponse")
            }
            if let p = parsed.partialSuccess, p.rejectedSpans > 0 || !p.errorMessage.isEmpty {
                return ExportOutcome(rejectedSpans: Int(p.rejectedSpans), message: p.errorMessage)
            }
            return .ok
        }
        let text = bodyText(r, contentType: contentType)
        let message = "POST \(target) answered HTTP \(code)" + (text.isEmpty ? "" : ": \(text)")
        if text.lowercased().contains("no org id") {
            throw .permanent(message + (sentTenant
                ? " (the backend did not accept the X-Scope-OrgID header that was sent)"
                : " (multi-tenant Tempo needs a tenant: add headers: {X-Scope-OrgID: <tenant>} to this exporter)"))
        }
        switch code {
        case 429, 502, 503, 504:
            throw .retryable(message, retryAfter: retryAfter(r.headers.first(name: "Retry-After")))
        default:
            throw .permanent(message)
        }
    }

    /// The start of an error body: a Status message when it is one, else the text.
    static func bodyText(_ r: HTTPClientResponse, contentType: String) -> String {
        r.body.withUnsafeReadableBytes { raw -> String in
            if contentType.hasPrefix("application/x-protobuf"), let s = RPCStatus.decodeProtobuf(raw), !s.message.isEmpty {
                return s.message
            }
            let text = String(decoding: raw.prefix(512), as: UTF8.self)
            return text.trimmingWhitespace()
        }
    }

    /// `Retry-After`: delay seconds or an HTTP date.
    static func retryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let v = value?.trimmingSpaces(), !v.isEmpty else { return nil }
        if let s = Int(v), s >= 0 { return .seconds(s) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = f.date(from: v) else { return nil }
        let seconds = date.timeIntervalSince(now)
        return seconds > 0 ? .milliseconds(Int64(seconds * 1000)) : .zero
    }
}

extension HTTPHeaders {
    /// These headers with an authenticator's edits applied (names compare case-insensitively).
    func applying(_ edits: [HeaderEdit]) -> HTTPHeaders {
        var h = self
        for e in edits {
            switch e.action {
            case .insert: if !h.contains(name: e.name) { h.add(name: e.name, value: e.value) }
            case .update: if h.contains(name: e.name) { h.replaceOrAdd(name: e.name, value: e.value) }
            case .upsert: h.replaceOrAdd(name: e.name, value: e.value)
            case .delete: h.remove(name: e.name)
            }
        }
        return h
    }
}
