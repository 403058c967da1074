import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TraceModel

/// `receivers.otlp.protocols.grpc`: `TraceService/Export` with the same pipeline semantics as the
/// HTTP side — success is an empty `ExportTraceServiceResponse`; malformed data is
/// INVALID_ARGUMENT; a refusing pipeline (queue full, memory limit) is UNAVAILABLE with a
/// `RetryInfo` so OTLP clients back off and retry; nothing is answered OK that was not taken.
public final class OTLPGRPCReceiver: Receiver {
    let config: GRPCServerSettings
    let next: any TraceConsumer
    let context: ComponentContext
    let counters: ReceiverCounters
    private let running = NIOLockedValueBox<(server: GRPCServer<HTTP2ServerTransport.Posix>, task: Task<Void, Never>)?>(nil)

    public init(config: GRPCServerSettings, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.context = context
        self.next = next
        counters = TelemetryRegistry.shared.receiver(context.id, transport: "grpc")
    }

    public func start(_ host: ComponentHost) async throws {
        let security = try config.tls?.grpcTransportSecurity(logger: context.logger) ?? .plaintext
        let transport = HTTP2ServerTransport.Posix(
            address: try Self.bindAddress(config.endpoint),
            transportSecurity: security,
            config: transportConfig,
            eventLoopGroup: context.eventLoopGroup as? MultiThreadedEventLoopGroup ?? .singleton
        )
        let server = GRPCServer(transport: transport, services: [ExportService(receiver: self)])
        let logger = context.logger
        let task = Task { [running] in
            do {
                try await server.serve()
            } catch where running.withLockedValue({ $0 != nil }) {
                // After a successful start only: a failed start is reported by `start` itself.
                logger.error("gRPC server stopped", metadata: ["error": "\(error)"])
            } catch {}
        }
        let address: String
        do {
            address = "\(try await transport.listeningAddress)"
        } catch {
            server.beginGracefulShutdown()
            await task.value
            throw StartError(message: "cannot listen on \(config.endpoint.host):\(config.endpoint.port) for OTLP/gRPC: "
                + "\((error as? RPCError)?.cause.map { "\($0)" } ?? "\(error)")")
        }
        running.withLockedValue { $0 = (server, task) }
        context.logger.info("OTLP/gRPC receiver listening", metadata: [
            "endpoint": "\(address)", "tls": "\(config.tls != nil)",
        ])
    }

    public func shutdown() async {
        guard let (server, task) = running.withLockedValue({ r in defer { r = nil }; return r }) else { return }
        // Calls in flight finish; one that hangs (a client that never ends its stream) is cut off.
        server.beginGracefulShutdown()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(10))
            task.cancel()
        }
        await task.value
        watchdog.cancel()
    }

    /// grpc-swift binds to addresses, not names: `localhost` is the loopback address.
    static func bindAddress(_ endpoint: Endpoint) throws -> GRPCNIOTransportCore.SocketAddress {
        var host = endpoint.host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        switch host {
        case "", "0.0.0.0": return .ipv4(host: "0.0.0.0", port: endpoint.port)
        case "::": return .ipv6(host: "::", port: endpoint.port)
        case "localhost": return .ipv4(host: "127.0.0.1", port: endpoint.port)
        default:
            guard let resolved = try? NIOCore.SocketAddress.makeAddressResolvingHost(host, port: endpoint.port), let ip = resolved.ipAddress else {
                throw StartError(message: "cannot resolve host \"\(host)\" of protocols.grpc.endpoint")
            }
            if case .v6 = resolved { return .ipv6(host: ip, port: endpoint.port) }
            return .ipv4(host: ip, port: endpoint.port)
        }
    }

    var transportConfig: HTTP2ServerTransport.Posix.Config {
        .defaults { c in
            // The transport resets streams over its limit (clients see a retryable UNAVAILABLE);
            // it gets headroom so that our deserializer answers the collector's RESOURCE_EXHAUSTED.
            c.rpc.maxRequestPayloadSize = config.maxReceiveMessageBytes * 2
            c.compression.enabledAlgorithms = [.gzip, .deflate]
            if config.maxConcurrentStreams > 0 { c.http2.maxConcurrentStreams = config.maxConcurrentStreams }
            // HTTP/2's 64 KiB default window makes a client wait for a WINDOW_UPDATE every 64 KiB
            // of a request; OTLP requests are often larger. Larger frames mean fewer of them.
            c.http2.targetWindowSize = 1 << 20
            c.http2.maxFrameSize = 1 << 20
            let k = config.keepalive
            c.connection.maxIdleTime = k.maxConnectionIdle.nanoseconds > 0 ? k.maxConnectionIdle.duration : nil
            c.connection.maxAge = k.maxConnectionAge.nanoseconds > 0 ? k.maxConnectionAge.duration : nil
            c.connection.maxGraceTime = k.maxConnectionAgeGrace.nanoseconds > 0 ? k.maxConnectionAgeGrace.duration : nil
            c.connection.keepalive = .init(
                time: k.time.duration, timeout: k.timeout.duration,
                clientBehavior: .init(minPingIntervalWithoutCalls: k.minTime.duration, allowWithoutCalls: k.permitWithoutStream))
        }
    }

    /// One Export call: decode result → pipeline → answer.
    func export(_ request: DecodedTraceRequest, metadata: Metadata) async throws -> ExportTraceResponse {
        let data: TraceData
        switch request {
        case .data(let d): data = d
        case .invalid(let message): throw RPCError(code: .invalidArgument, message: message)
        case .tooLarge(let size, let limit):
            throw RPCError(code: .resourceExhausted, message: "grpc: received message larger than max (\(size) vs. \(limit))")
        }
        let spans = data.spanCount
        guard spans > 0 else { return ExportTraceResponse(partialSuccess: .init()) }
        do {
            try await RequestMetadata.$current.withValue(config.includeMetadata ? Self.requestMetadata(metadata) : [:]) {
                try await next.consume(data)
            }
            counters.acceptedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
        } catch {
            counters.refusedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
            throw Self.rpcError(for: error, spans: spans, logger: context.logger)
        }
        return ExportTraceResponse(partialSuccess: .init())
    }

    /// The collector's mapping: not permanent → UNAVAILABLE (retry), permanent → INTERNAL.
    static func rpcError(for error: any Error, spans: Int, logger: Logger) -> RPCError {
        switch error as? PipelineError {
        case .refused(let message, let retryAfter):
            return .withRetryInfo(.unavailable, message: message, delay: retryAfter ?? .seconds(1))
        case .invalidData(let message):
            return RPCError(code: .invalidArgument, message: message)
        case .permanent(let message):
            logger.warning("pipeline refused data permanently", metadata: ["error": "\(message)", "spans": "\(spans)"])
            return RPCError(code: .internalError, message: message)
        case nil:
            logger.warning("pipeline failed", metadata: ["error": "\(error)", "spans": "\(spans)"])
            return .withRetryInfo(.unavailable, message: "\(error)", delay: .seconds(1))
        }
    }

    /// gRPC metadata by (already lower-case) key, string values only (`include_metadata`).
    static func requestMetadata(_ metadata: Metadata) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (key, value) in metadata {
            if case .string(let s) = value { out[key.lowercased(), default: []].append(s) }
        }
        return out
    }
}

/// Registers the Export method with grpc-swift's router.
struct ExportService: RegistrableRPCService {
    let receiver: OTLPGRPCReceiver

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: OTLPTraceService.export,
            deserializer: TraceRequestDeserializer(limit: receiver.config.maxReceiveMessageBytes),
            serializer: TraceResponseCodec()
        ) { [receiver] request, _ in
            let single = try await ServerRequest(stream: request)
            let answer = try await receiver.export(single.message, metadata: single.metadata)
            return StreamingServerResponse(single: ServerResponse(message: answer))
        }
    }
}
