import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A request with its whole body read.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var uri: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    /// The path without the query string.
    public var path: Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}

public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ status: HTTPResponseStatus, _ text: String, contentType: String = "text/plain") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: ByteBuffer(string: text))
    }
}

/// A small HTTP/1.1 server on SwiftNIO: reads whole bodies up to a limit, hands each request to
/// an async handler, keeps connections alive, and on shutdown stops accepting, lets requests in
/// flight finish, then closes every connection.
public final class HTTPServer: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    public struct Options: Sendable {
        /// Bodies above this many bytes are not buffered; `tooLarge` answers instead.
        public var maxBodySize: Int
        /// The answer to an over-limit body.
        public var tooLarge: @Sendable (HTTPRequest) -> HTTPResponse
        /// Close each connection after one answer (the health check does, as the collector's).
        public var closeAfterResponse: Bool
        /// A request must arrive whole within this time once it started (slow clients are cut off).
        public var readTimeout: Duration = .seconds(30)
        /// A keep-alive connection idle this long is closed.
        public var idleTimeout: Duration = .seconds(120)
        /// Connections beyond this many are closed as soon as they are accepted.
        public var maxConnections = 4096

        public init(maxBodySize: Int, closeAfterResponse: Bool = false, tooLarge: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
            self.maxBodySize = maxBodySize
            self.closeAfterResponse = closeAfterResponse
            self.tooLarge = tooLarge
        }

        /// Options from a receiver's `confighttp` settings.
        public init(_ settings: HTTPServerSettings, tooLarge: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
            self.init(maxBodySize: settings.maxRequestBodySize, tooLarge: tooLarge)
            readTimeout = settings.readTimeout.duration
            idleTimeout = settings.idleTimeout.duration
            maxConnections = settings.maxConnections
        }
    }

    private let channel: any Channel
    private let connections: ConnectionSet
    public let localAddress: SocketAddress

    private init(channel: any Channel, connections: ConnectionSet) {
        self.channel = channel
        self.localAddress = channel.localAddress!
        self.connections = connections
    }

    /// Binds and starts serving. Throws when the address cannot be bound (in use, no permission).
    public static func start(
        host: String, port: Int, group: any EventLoopGroup, options: Options, tls: NIOSSLContext? = nil, handler: @escaping Handler
    ) async throws -> HTTPServer {
        let connections = ConnectionSet()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                if connections.count >= options.maxConnections {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: TimeAmount.nanoseconds(options.idleTimeout.totalNanoseconds)))
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPRequestHandler(options: options, handler: handler)
                    )
                    connections.add(channel)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return HTTPServer(channel: channel, connections: connections)
    }

    public var port: Int { localAddress.port ?? 0 }

    /// Stops accepting, waits up to `grace` for requests in flight, then closes all connections.
    public func shutdown(grace: Duration = .seconds(5)) async {
        try? await channel.close()
        await connections.drain(grace: grace) { $0.pipeline.fireUserInboundEventTriggered(ServerShutdownEvent()) }
    }
}

struct ServerShutdownEvent {}

/// Collects one request at a time (NIO's pipelining helper orders them), runs the handler on a
/// task, and writes the answer back on the channel's event loop.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    func handlerRemoved(context: ChannelHandlerContext) {
        readTimer?.cancel()
    }

    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let options: HTTPServer.Options
    private let handler: HTTPServer.Handler
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodySize = 0
    private var tooLarge = false
    private var busy = false
    private var closeWhenIdle = false
    private var readTimer: Scheduled<Void>?

    init(options: HTTPServer.Options, handler: @escaping HTTPServer.Handler) {
        self.options = options
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            bodySize = 0
            tooLarge = false
            // The whole request must arrive within the read timeout (slowloris protection).
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            readTimer = context.eventLoop.scheduleTask(in: .nanoseconds(options.readTimeout.totalNanoseconds)) {
                ctx.value.close(promise: nil)
            }
        case .body(var chunk):
            bodySize += chunk.readableBytes
            if bodySize > options.maxBodySize {
                // Keep reading (so the client can read our answer) but stop buffering.
                tooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            let request = HTTPRequest(method: h.method, uri: h.uri, headers: h.headers, body: body ?? ByteBuffer())
            body = nil
            let keepAlive = h.isKeepAlive && !options.closeAfterResponse
            readTimer?.cancel()
            readTimer = nil
            if tooLarge {
                write(options.tooLarge(request), version: h.version, keepAlive: false, context: context)
                return
            }
            busy = true
            let handler = self.handler
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let future = context.eventLoop.makeFutureWithTask { await handler(request) }
            future.whenSuccess { response in
                let (me, ctx) = loopBound.value
                me.busy = false
                me.write(response, version: h.version, keepAlive: keepAlive && !me.closeWhenIdle, context: ctx)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if !busy && head == nil { context.close(promise: nil) }
            return
        }
        if event is ServerShutdownEvent {
            closeWhenIdle = true
            if !busy && head == nil { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func write(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.futureResult.whenComplete { _ in ctx.value.close(promise: nil) }
        }
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
