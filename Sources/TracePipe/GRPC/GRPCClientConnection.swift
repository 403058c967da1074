import FoundationEssentials
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Why a call ended without a gRPC status.
enum GRPCClientError: Error, CustomStringConvertible {
    case connect(String)
    case closed(String)
    case timeout(Duration)
    case notGRPC(String)

    var description: String {
        switch self {
        case .connect(let m): return "cannot connect: \(m)"
        case .closed(let m): return "the call ended before its status arrived: \(m)"
        case .timeout(let d): return "no answer within \(d)"
        case .notGRPC(let m): return "the answer is not gRPC: \(m)"
        }
    }
}

/// One HTTP/2 connection to a gRPC server, used by one task at a time (an exporter's sending task):
/// connects lazily, reconnects after errors, one stream per call. The caller frames (and
/// compresses) the message itself: the otlp exporter gzips with libdeflate at level 1, about a
/// third of the CPU of the zlib level 6 that grpc-swift's client always uses.
final class GRPCClientConnection: Sendable {
    struct Target: Sendable {
        var host: String
        var port: Int
        var tls: NIOSSLContext?
        /// TLS server name to ask for and verify (`server_name_override`), else the host.
        var serverName: String?
        /// `keepalive`: ping a quiet connection, drop it when the ping goes unanswered.
        var keepalive: GRPCConnectionKeepalive.Settings?
    }

    private let current = NIOLockedValueBox<(channel: any Channel, multiplexer: NIOLoopBound<HTTP2StreamMultiplexer>, ended: ConnectionEnd)?>(nil)
    let target: Target
    let group: any EventLoopGroup

    init(target: Target, group: any EventLoopGroup) {
        self.target = target
        self.group = group
    }

    deinit {
        close()
    }

    func close() {
        current.withLockedValue { c in defer { c = nil }; return c }?.channel.close(promise: nil)
    }

    private func connect(timeout: Duration) async throws -> (multiplexer: NIOLoopBound<HTTP2StreamMultiplexer>, ended: ConnectionEnd) {
        if let c = current.withLockedValue({ $0 }), c.channel.isActive { return (c.multiplexer, c.ended) }
        current.withLockedValue { $0 = nil }
        let ended = ConnectionEnd()
        let t = target
        // SNI cannot carry an IP address; without a name NIOSSL checks the certificate against the peer's IP.
        let isIP = t.host.contains(":") || t.host.allSatisfy { $0.isNumber || $0 == "." }
        let sni = t.serverName ?? (isIP ? nil : t.host)
        // The HTTP/2 handler goes in before the connection is up: frames the server sends at once
        // (its SETTINGS) must not arrive before it.
        let made = NIOLockedValueBox<NIOLoopBound<HTTP2StreamMultiplexer>?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount.nanoseconds(timeout.totalNanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls = t.tls {
                        try sync.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: sni))
                    } else {
                        try sync.addHandler(TLSReplyDetector(ended: ended))
                    }
                }.flatMap {
                    channel.configureHTTP2Pipeline(mode: .client, inboundStreamInitializer: nil)
                }.flatMapThrowing { m in
                    if let k = t.keepalive { try channel.pipeline.syncOperations.addHandler(GRPCConnectionKeepalive(settings: k)) }
                    try channel.pipeline.syncOperations.addHandler(ConnectionErrorRecorder(ended: ended))
                    made.withLockedValue { $0 = NIOLoopBound(m, eventLoop: channel.eventLoop) }
                }
            }
        do {
            let channel = try await bootstrap.connect(host: t.host, port: t.port).get()
            guard let multiplexer = made.withLockedValue({ $0 }) else { throw GRPCClientError.closed("HTTP/2 was not set up") }
            current.withLockedValue { $0 = (channel, multiplexer, ended) }
            return (multiplexer, ended)
        } catch {
            throw GRPCClientError.connect("\(t.host):\(t.port): \(ConnectionFailureDiagnosis.describe(error, transport: .grpc))")
        }
    }

    /// One unary call: `headers` (pseudo-headers included) and an already framed `body`; waits
    /// for the status at most `timeout` in all.
    func call(headers: HPACKHeaders, body: ByteBuffer, timeout: Duration) async throws -> GRPCCallResult {
        let start = ContinuousClock.now
        let (multiplexer, ended) = try await connect(timeout: timeout)
        let remaining = timeout - (ContinuousClock.now - start)
        guard remaining > .zero else { throw GRPCClientError.timeout(timeout) }
        let promise = multiplexer.eventLoop.makePromise(of: GRPCCallResult.self)
        let stream: any Channel
        do {
            stream = try await multiplexer.eventLoop.flatSubmit {
                multiplexer.value.createStreamChannel { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(GRPCCallHandler(promise: promise, ended: ended))
                    }
                }
            }.get()
        } catch {
            let failure = GRPCClientError.closed(ended.error.map { "\($0)" } ?? "\(error)")
            promise.fail(failure)
            close()
            throw failure
        }
        let timer = stream.eventLoop.scheduleTask(in: .nanoseconds(remaining.totalNanoseconds)) {
            promise.fail(GRPCClientError.timeout(timeout))
            stream.close(promise: nil)
        }
        defer { timer.cancel() }
        stream.write(HTTP2Frame.FramePayload.headers(.init(headers: headers)), promise: nil)
        stream.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(body), endStream: true)), promise: nil)
        do {
            return try await promise.futureResult.get()
        } catch {
            // A broken connection is replaced by the next call; a timed-out stream alone is not.
            if !(error is GRPCClientError) || ended.error != nil { close() }
            throw error
        }
    }
}

/// Collects one call's answer on its HTTP/2 stream and completes the promise once.
final class GRPCCallHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload

    private var promise: EventLoopPromise<GRPCCallResult>?
    private let ended: ConnectionEnd
    private var responseHeaders: HPACKHeaders?
    private var data = ByteBuffer()
    /// The largest response message accepted (OTLP answers are tiny).
    static let maxResponse = 4 * 1024 * 1024

    init(promise: EventLoopPromise<GRPCCallResult>, ended: ConnectionEnd) {
        self.promise = promise
        self.ended = ended
    }

    func channelRead(context: ChannelHandlerContext, data frame: NIOAny) {
        switch unwrapInboundIn(frame) {
        case .headers(let h):
            if responseHeaders == nil {
                responseHeaders = h.headers
                let status = h.headers.first(name: ":status") ?? ""
                // A Trailers-Only answer carries grpc-status in its first and only headers.
                if status != "200" && h.headers.first(name: "grpc-status") == nil {
                    return fail(context, GRPCClientError.notGRPC("HTTP status \(status)"))
                }
                if h.endStream { finish(context, trailers: h.headers) }
            } else {
                finish(context, trailers: h.headers)
            }
        case .data(let d):
            if case .byteBuffer(var b) = d.data {
                guard data.readableBytes + b.readableBytes <= Self.maxResponse + 5 else {
                    return fail(context, GRPCClientError.notGRPC("response larger than \(Self.maxResponse) bytes"))
                }
                data.writeBuffer(&b)
            }
            if d.endStream { fail(context, GRPCClientError.closed("the stream ended without trailers")) }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, GRPCClientError.closed(ended.error.map { "\($0)" } ?? "the connection closed"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, ended.error ?? error)
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        guard let p = promise else { return }
        promise = nil
        p.fail(error)
        context.close(promise: nil)
    }

    private func finish(_ context: ChannelHandlerContext, trailers: HPACKHeaders) {
        guard let p = promise else { return }
        guard let code = trailers.first(name: "grpc-status").flatMap({ Int($0) }) else {
            return fail(context, GRPCClientError.notGRPC("no grpc-status in the trailers"))
        }
        var result = GRPCCallResult(status: code, message: Self.percentDecoded(trailers.first(name: "grpc-message") ?? ""))
        if let d = trailers.first(name: "grpc-status-details-bin") {
            result.details = Self.base64Decoded(d)
        }
        do {
            result.response = try readMessage()
        } catch {
            return fail(context, error)
        }
        promise = nil
        p.succeed(result)
        context.close(promise: nil)
    }

    /// The length-prefixed response message, inflated when flagged compressed.
    private func readMessage() throws -> [UInt8]? {
        guard let flag: UInt8 = data.readInteger(), let length: UInt32 = data.readInteger() else { return nil }
        guard let bytes = data.readBytes(length: Int(length)) else { throw GRPCClientError.notGRPC("truncated response message") }
        guard flag == 1 else { return bytes }
        let encoding = responseHeaders?.first(name: "grpc-encoding") ?? ""
        guard encoding == "gzip" || encoding == "deflate" else { throw GRPCClientError.notGRPC("response compressed with \"\(encoding)\"") }
        return try bytes.withUnsafeBytes { try Inflater.decompress($0, format: encoding == "gzip" ? .gzip : .zlib, limit: Self.maxResponse) }
    }

    /// gRPC percent-encodes `grpc-message`.
    static func percentDecoded(_ s: String) -> String {
        s.removingPercentEncoding ?? s
    }

    /// Binary metadata is base64, padded or not.
    static func base64Decoded(_ s: String) -> [UInt8]? {
        var t = s
        while t.count % 4 != 0 { t += "=" }
        return Data(base64Encoded: t).map { [UInt8]($0) }
    }
}

/// On a plaintext connection: a server that answers with a TLS record (alert 0x15, handshake
/// 0x16) rather than HTTP/2 frames expects TLS on this port.
final class TLSReplyDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let ended: ConnectionEnd

    init(ended: ConnectionEnd) {
        self.ended = ended
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first == 0x15 || first == 0x16 {
            ended.record(GRPCClientError.connect(
                "the server expects TLS on this port: remove tls.insecure: true (or write the endpoint as https://host:port)"))
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Keeps the first connection-level error (TLS handshake, protocol error) for the calls on it.
final class ConnectionErrorRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    private let ended: ConnectionEnd

    init(ended: ConnectionEnd) {
        self.ended = ended
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ended.record(GRPCClientError.connect(ConnectionFailureDiagnosis.describe(error, transport: .grpc)))
        context.close(promise: nil)
    }
}
