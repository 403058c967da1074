import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCore
import TraceModel

/// Sends `TraceService/Export` calls and reads the answers the way OTLP/gRPC defines them: OK
/// (with partial success); CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE,
/// DATA_LOSS and RESOURCE_EXHAUSTED-with-RetryInfo retryable, honouring the RetryInfo delay;
/// every other code permanent.
public struct OTLPGRPCSender: ExportSender {
    let config: OTLPGRPCExporterConfig
    let security: HTTP2ClientTransport.Posix.TransportSecurity
    let group: any EventLoopGroup
    let logger: Logger

    public init(config: OTLPGRPCExporterConfig, group: any EventLoopGroup, logger: Logger) throws {
        self.config = config
        self.group = group
        self.logger = logger
        security = try config.tls.grpcTransportSecurity(plaintext: config.plaintext, logger: logger)
    }

    public func makeLane() throws -> any ExportLane {
        try OTLPGRPCLane(sender: self)
    }

    var transportConfig: HTTP2ClientTransport.Posix.Config {
        .defaults { c in
            c.compression.enabledAlgorithms = [.gzip, .deflate]
            // The collector's server name override is the TLS name to verify and ask for.
            c.http2.authority = config.tls.serverNameOverride ?? config.authority
            if let k = config.keepalive, k.time.nanoseconds > 0 {
                c.connection.keepalive = .init(time: k.time.duration, timeout: k.timeout.duration, allowWithoutCalls: k.permitWithoutStream)
            }
            // Reconnect quickly after an outage; the exporter helper paces the retries of data.
            c.backoff = .init(initial: .milliseconds(250), max: .seconds(5), multiplier: 1.6, jitter: 0.2)
        }
    }

    var serviceConfig: GRPCCore.ServiceConfig {
        GRPCCore.ServiceConfig(loadBalancingConfig: [config.balancer == .roundRobin ? .roundRobin : .pickFirst(shuffleAddressList: false)])
    }
}

/// One consumer's gRPC client (its own HTTP/2 connection). Sendable by contract: only the owning
/// consumer task calls `send`; `close` only ends the client, which is thread-safe.
final class OTLPGRPCLane: ExportLane, @unchecked Sendable {
    let sender: OTLPGRPCSender
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let connections: Task<Void, Never>
    let metadata: Metadata
    let options: CallOptions
    let target: String

    init(sender: OTLPGRPCSender) throws {
        self.sender = sender
        let c = sender.config
        let transport = try HTTP2ClientTransport.Posix(
            target: Self.resolvableTarget(host: c.host, port: c.port),
            transportSecurity: sender.security,
            config: sender.transportConfig,
            serviceConfig: sender.serviceConfig,
            eventLoopGroup: sender.group
        )
        let client = GRPCClient(transport: transport)
        self.client = client
        connections = Task { try? await client.runConnections() }
        var m = Metadata()
        for (name, value) in c.headers { m.addString(value, forKey: name) }
        metadata = m
        var o = CallOptions.defaults
        o.compression = c.compression == .gzip ? .gzip : CompressionAlgorithm.none
        o.waitForReady = c.waitForReady
        options = o
        target = "\(c.plaintext ? "" : "TLS ")gRPC \(c.host):\(c.port)"
    }

    /// IP literals are dialled as such: a DNS target would offer the address as the TLS server
    /// name, which TLS forbids; without one, the certificate is checked against the IP.
    static func resolvableTarget(host: String, port: Int) -> any ResolvableTarget {
        if let ip = try? NIOCore.SocketAddress(ipAddress: host, port: port) {
            if case .v6 = ip { return .ipv6(host: host, port: port) }
            return .ipv4(host: host, port: port)
        }
        return .dns(host: host, port: port)
    }

    func close() {
        client.beginGracefulShutdown()
        connections.cancel()
    }

    deinit {
        close()
    }

    func send(_ data: TraceData, timeout: Duration?) async throws(ExportError) -> ExportOutcome {
        var o = options
        o.timeout = timeout
        let response: ExportTraceResponse
        do {
            response = try await client.unary(
                request: ClientRequest(message: data, metadata: metadata),
                descriptor: OTLPTraceService.export,
                serializer: TraceRequestSerializer(),
                deserializer: TraceResponseCodec(),
                options: o
            ) { try $0.message }
        } catch let e as RPCError {
            throw Self.classify(e, target: target, config: sender.config)
        } catch {
            throw .retryable("Export to \(target): \(error)", retryAfter: nil)
        }
        if let p = response.partialSuccess, p.rejectedSpans > 0 || !p.errorMessage.isEmpty {
            return ExportOutcome(rejectedSpans: Int(p.rejectedSpans), message: p.errorMessage)
        }
        return .ok
    }

    /// OTLP/gRPC's retry rules, with a connection failure explained (TLS or not) by its cause.
    static func classify(_ e: RPCError, target: String, config: OTLPGRPCExporterConfig) -> ExportError {
        let delay = e.retryInfoDelay
        var message = "Export to \(target) failed with \(e.code): \(e.message)"
        if let explained = ConnectionFailureDiagnosis.explainGRPC(e, usingTLS: !config.plaintext) { message += " (\(explained))" }
        if e.code == .unauthenticated || e.code == .permissionDenied || e.message.lowercased().contains("no org id") {
            let sent = config.headers.contains { $0.name == "x-scope-orgid" }
            if !sent && e.message.lowercased().contains("org id") {
                message += " (multi-tenant Tempo needs a tenant: add headers: {X-Scope-OrgID: <tenant>} to this exporter)"
            }
        }
        switch e.code {
        case .cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss:
            return .retryable(message, retryAfter: delay)
        case .resourceExhausted where delay != nil:
            return .retryable(message, retryAfter: delay)
        default:
            return .permanent(message)
        }
    }
}
