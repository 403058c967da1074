import Logging
import NIOCore
import NIOHPACK
import NIOSSL
import TraceModel

/// Sends `TraceService/Export` calls and reads the answers the way OTLP/gRPC defines them: OK
/// (with partial success); CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE,
/// DATA_LOSS and RESOURCE_EXHAUSTED-with-RetryInfo retryable, honouring the RetryInfo delay;
/// every other code permanent.
public struct OTLPGRPCSender: ExportSender {
    let config: OTLPGRPCExporterConfig
    let tls: NIOSSLContext?
    let group: any EventLoopGroup
    /// Encoding buffers kept between batches, shared by the lanes (see `EncodeBufferPool`).
    let encodeBuffers: EncodeBufferPool

    /// `encodeBuffers`: a pool shared with other senders (the loadbalancing exporter's backends
    /// share one, so a backend that leaves keeps no buffers).
    public init(config: OTLPGRPCExporterConfig, group: any EventLoopGroup, logger: Logger) throws {
        try self.init(config: config, group: group, logger: logger, encodeBuffers: EncodeBufferPool())
    }

    init(config: OTLPGRPCExporterConfig, group: any EventLoopGroup, logger: Logger, encodeBuffers: EncodeBufferPool) throws {
        self.config = config
        self.group = group
        self.encodeBuffers = encodeBuffers
        tls = config.plaintext ? nil : try config.tls.makeContext(applicationProtocols: ["h2"])
        if config.compression == .gzip { Deflater.noteEngine(logger) }
    }

    public func makeLane() throws -> any ExportLane {
        try OTLPGRPCLane(sender: self)
    }

    static let userAgent = "tracepipe/\(TracePipeInfo.version) grpc"
}

/// One consumer's gRPC connection. Sendable by contract: only the owning consumer task calls
/// `send` (and so uses the non-thread-safe Deflater); `close` only touches the connection.
final class OTLPGRPCLane: ExportLane, @unchecked Sendable {
    let sender: OTLPGRPCSender
    let connection: GRPCClientConnection
    let deflater: Deflater?
    let headers: HPACKHeaders
    let target: String

    init(sender: OTLPGRPCSender) throws {
        self.sender = sender
        let c = sender.config
        let keepalive = c.keepalive.flatMap { k -> GRPCConnectionKeepalive.Settings? in
            guard k.time.nanoseconds > 0 else { return nil }
            return .init(maxIdle: nil, maxAge: nil, maxAgeGrace: nil, pingTime: .nanoseconds(k.time.nanoseconds),
                         pingTimeout: .nanoseconds(max(k.timeout.nanoseconds, 1_000_000)), minPingInterval: .zero,
                         permitWithoutStream: k.permitWithoutStream, isClient: true)
        }
        connection = GRPCClientConnection(
            target: .init(host: c.host, port: c.port, tls: sender.tls, serverName: c.tls.serverNameOverride, keepalive: keepalive),
            group: sender.group)
        deflater = c.compression == .gzip ? try Deflater(format: .gzip, level: 1) : nil
        var h = HPACKHeaders()
        h.add(name: ":method", value: "POST")
        h.add(name: ":scheme", value: c.plaintext ? "http" : "https")
        h.add(name: ":path", value: GRPCExportCallHandler.path)
        h.add(name: ":authority", value: c.authority ?? (c.host.contains(":") ? "[\(c.host)]:\(c.port)" : "\(c.host):\(c.port)"))
        h.add(name: "content-type", value: "application/grpc")
        h.add(name: "te", value: "trailers")
        h.add(name: "user-agent", value: OTLPGRPCSender.userAgent)
        if c.compression == .gzip { h.add(name: "grpc-encoding", value: "gzip") }
        h.add(name: "grpc-accept-encoding", value: "gzip,deflate,identity")
        for (name, value) in c.headers { h.add(name: name, value: value) }
        headers = h
        target = "\(c.plaintext ? "" : "TLS ")gRPC \(c.host):\(c.port)"
    }

    func close() {
        connection.close()
    }

    func send(_ data: TraceData, headerEdits: [HeaderEdit], timeout: Duration?) async throws(ExportError) -> ExportOutcome {
        try await send(data, selecting: nil, headerEdits: headerEdits, timeout: timeout)
    }

    /// `selection`: only those spans of `data` are sent (a loadbalancing piece, encoded in place).
    func send(_ data: TraceData, selecting selection: SpanSelection?, headerEdits: [HeaderEdit],
              timeout: Duration?) async throws(ExportError) -> ExportOutcome {
        let c = sender.config
        let deadline = timeout ?? .seconds(30)
        // gRPC's length-prefixed message: a compressed flag, 4 bytes of length, the bytes.
        var body = ByteBuffer()
        let storage = sender.encodeBuffers.take()
        let frame = { (raw: UnsafeRawBufferPointer) in
            body.writeInteger(UInt8(self.deflater == nil ? 0 : 1))
            body.writeInteger(UInt32(0))  // the length, set once known
            if let deflater = self.deflater { deflater.compress(raw, appendingTo: &body) } else { body.writeBytes(raw) }
            body.setInteger(UInt32(body.readableBytes - 5), at: body.readerIndex + 1)
        }
        if let selection {
            OTLPProtobufEncoder.withEncoded(data, selecting: selection, reusing: storage, frame)
        } else {
            OTLPProtobufEncoder.withEncoded(data, reusing: storage, frame)
        }
        sender.encodeBuffers.put(storage)
        var h = headerEdits.isEmpty ? headers : headers.applying(headerEdits)
        h.add(name: "grpc-timeout", value: Self.grpcTimeout(deadline))
        let result: GRPCCallResult
        do {
            result = try await connection.call(headers: h, body: body, timeout: deadline)
        } catch {
            throw Self.classify(error, target: target, config: c)
        }
        guard result.status == 0 else {
            throw Self.classify(result, target: target, sentTenant: h.contains(name: "x-scope-orgid"))
        }
        guard let bytes = result.response, !bytes.isEmpty else { return .ok }
        let response: ExportTraceResponse
        do {
            response = try bytes.withUnsafeBytes { raw throws(ProtobufDecodingError) in try ExportTraceResponse.decodeProtobuf(raw) }
        } catch {
            throw .permanent("Export to \(target) answered OK with a body that is not an ExportTraceServiceResponse: \(error)")
        }
        if let p = response.partialSuccess, p.rejectedSpans > 0 || !p.errorMessage.isEmpty {
            return ExportOutcome(rejectedSpans: Int(p.rejectedSpans), message: p.errorMessage)
        }
        return .ok
    }

    /// `grpc-timeout`: at most 8 digits, in the finest unit that fits (ms, s, min, h).
    static func grpcTimeout(_ d: Duration) -> String {
        var value = max(1, d.totalNanoseconds / 1_000_000)
        for (unit, next) in [("m", Int64(1000)), ("S", 60), ("M", 60), ("H", 1)] {
            if value <= 99_999_999 || unit == "H" { return "\(min(value, 99_999_999))\(unit)" }
            value = (value + next - 1) / next
        }
        return "99999999H"
    }

    /// A call that never got a status (connection, TLS, timeout) is retryable and explained by
    /// its cause.
    static func classify(_ error: any Error, target: String, config: OTLPGRPCExporterConfig) -> ExportError {
        let why = error is GRPCClientError ? "\(error)" : ConnectionFailureDiagnosis.describe(error, transport: .grpc)
        return .retryable("Export to \(target) failed: \(why)", retryAfter: nil)
    }

    /// OTLP/gRPC's retry rules for a non-OK status.
    static func classify(_ r: GRPCCallResult, target: String, sentTenant: Bool) -> ExportError {
        let delay = r.retryDelay
        var message = "Export to \(target) failed with \(r.code): \(r.message)"
        if r.message.lowercased().contains("org id") && !sentTenant {
            message += " (multi-tenant Tempo needs a tenant: add headers: {X-Scope-OrgID: <tenant>} to this exporter)"
        }
        switch r.code {
        case .cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss:
            return .retryable(message, retryAfter: delay)
        case .resourceExhausted where delay != nil:
            return .retryable(message, retryAfter: delay)
        default:
            return .permanent(message)
        }
    }
}

extension HPACKHeaders {
    /// This metadata with an authenticator's edits applied; gRPC metadata keys are lower case.
    func applying(_ edits: [HeaderEdit]) -> HPACKHeaders {
        var h = self
        for e in edits {
            let name = e.name.lowercased()
            switch e.action {
            case .insert: if !h.contains(name: name) { h.add(name: name, value: e.value) }
            case .update: if h.contains(name: name) { h.replaceOrAdd(name: name, value: e.value) }
            case .upsert: h.replaceOrAdd(name: name, value: e.value)
            case .delete: h.remove(name: name)
            }
        }
        return h
    }
}
