import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL

/// An HTTP/2 server for OTLP's one gRPC method, straight on SwiftNIO: TLS (ALPN `h2`) when
/// configured, HTTP/2 with large windows, a `GRPCExportCallHandler` per stream and grpc-go's
/// connection management per connection. (grpc-swift's generic server cost about a third more
/// CPU per span on the benchmark.)
final class GRPCExportServer: Sendable {
    private let listener: any Channel
    private let connections: ConnectionSet
    let port: Int
    static let maxConnections = 4096

    private init(listener: any Channel, connections: ConnectionSet) {
        self.listener = listener
        self.connections = connections
        port = listener.localAddress?.port ?? 0
    }

    static func start(
        host: String, port: Int, group: any EventLoopGroup, tls: NIOSSLContext?, settings: GRPCServerSettings,
        service: any GRPCExportService
    ) async throws -> GRPCExportServer {
        let k = settings.keepalive
        func amount(_ d: ConfigDuration) -> TimeAmount? { d.nanoseconds > 0 ? .nanoseconds(d.nanoseconds) : nil }
        let keepalive = GRPCConnectionKeepalive.Settings(
            maxIdle: amount(k.maxConnectionIdle), maxAge: amount(k.maxConnectionAge), maxAgeGrace: amount(k.maxConnectionAgeGrace),
            pingTime: .nanoseconds(k.time.nanoseconds), pingTimeout: .nanoseconds(k.timeout.nanoseconds),
            minPingInterval: .nanoseconds(k.minTime.nanoseconds), permitWithoutStream: k.permitWithoutStream)
        var local: [HTTP2Setting] = [
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 20),
            // 64 KiB (HTTP/2's default) would make clients wait for a window update every 64 KiB.
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024),
        ]
        local.append(HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.maxConcurrentStreams > 0 ? settings.maxConcurrentStreams : 100))
        let connections = ConnectionSet()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                // Like the HTTP server: a bounded number of connections, more are closed at once.
                guard connections.count < Self.maxConnections else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                }.flatMap {
                    channel.configureHTTP2Pipeline(mode: .server, initialLocalSettings: local, targetWindowSize: 1 << 20) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(GRPCExportCallHandler(service: service))
                        }
                    }
                }.flatMapThrowing { _ in
                    try channel.pipeline.syncOperations.addHandler(GRPCConnectionKeepalive(settings: keepalive))
                    connections.add(channel)
                }
            }
        let listener = try await bootstrap.bind(host: host, port: port).get()
        return GRPCExportServer(listener: listener, connections: connections)
    }

    /// Stops accepting, lets calls in flight finish (GOAWAY, then close when idle), and closes
    /// what is still open after `grace`.
    func shutdown(grace: Duration = .seconds(10)) async {
        try? await listener.close()
        await connections.drain(grace: grace) { $0.pipeline.triggerUserOutboundEvent(GRPCConnectionKeepalive.Drain(), promise: nil) }
    }
}
