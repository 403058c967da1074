import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOConcurrencyHelpers
import TraceModel
import TracePipe

/// An in-test OTLP/gRPC backend standing in for Tempo on 4317: records each Export call (its
/// decoded data and metadata) and answers however a test scripts it.
public final class FakeGRPCTempo: Sendable {
    public struct Received: Sendable {
        public var metadata: Metadata
        public var data: TraceData?
        public var error: String?
    }

    public enum Answer: Sendable {
        case ok
        case partial(rejected: Int64, message: String)
        case error(RPCError.Code, String, retryDelay: Duration? = nil)
        /// Wait, then answer OK.
        case delay(Duration)
    }

    public typealias Script = @Sendable (_ index: Int, _ request: Received) -> Answer

    private struct State {
        var received: [Received] = []
        var calls = 0
        var script: Script = { _, _ in .ok }
    }

    public enum Security: Sendable {
        case plaintext
        case tls(TestCertificates, requireClientCert: Bool)
        /// TLS with the certificate that names only `localhost`, not 127.0.0.1.
        case tlsNameOnly(TestCertificates)
    }

    private let state = NIOLockedValueBox(State())
    private let server = NIOLockedValueBox<(GRPCServer<HTTP2ServerTransport.Posix>, Task<Void, Never>)?>(nil)
    private let boundPort = NIOLockedValueBox(0)
    public var port: Int { boundPort.withLockedValue { $0 } }

    private init() {}

    public static func start(security: Security = .plaintext) async throws -> FakeGRPCTempo {
        let fake = FakeGRPCTempo()
        let transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity
        switch security {
        case .plaintext:
            transportSecurity = .plaintext
        case .tlsNameOnly(let certs):
            transportSecurity = .tls(.defaults(certificateChain: [.file(path: certs.nameOnlyServerCert, format: .pem)],
                                               privateKey: .file(path: certs.serverKey, format: .pem)))
        case .tls(let certs, let requireClientCert):
            let chain: [TLSConfig.CertificateSource] = [.file(path: certs.serverCert, format: .pem)]
            let key = TLSConfig.PrivateKeySource.file(path: certs.serverKey, format: .pem)
            transportSecurity = requireClientCert
                ? .tls(.mTLS(certificateChain: chain, privateKey: key) { $0.trustRoots = .certificates([.file(path: certs.caCert, format: .pem)]) })
                : .tls(.defaults(certificateChain: chain, privateKey: key))
        }
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: transportSecurity,
            config: .defaults { $0.compression.enabledAlgorithms = .all; $0.rpc.maxRequestPayloadSize = 64 << 20 })
        let grpc = GRPCServer(transport: transport, services: [FakeService(fake: fake)])
        let task = Task { _ = try? await grpc.serve() }
        guard let address = try await transport.listeningAddress.ipv4 else { throw RPCError(code: .internalError, message: "no IPv4 address") }
        fake.boundPort.withLockedValue { $0 = address.port }
        fake.server.withLockedValue { $0 = (grpc, task) }
        return fake
    }

    public func script(_ s: @escaping Script) {
        state.withLockedValue { $0.script = s }
    }

    /// Calls answered OK (or partially), in arrival order.
    public var received: [Received] { state.withLockedValue { $0.received } }
    /// Every call, answered OK or not.
    public var calls: Int { state.withLockedValue { $0.calls } }

    public var spans: [Span] {
        received.compactMap(\.data).flatMap { $0.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) } }
    }

    public func stop() async {
        guard let (grpc, task) = server.withLockedValue({ s in defer { s = nil }; return s }) else { return }
        grpc.beginGracefulShutdown()
        await task.value
    }

    @discardableResult
    public func wait(timeout: Duration = .seconds(20), until condition: (FakeGRPCTempo) -> Bool) async -> Bool {
        await eventually(timeout: timeout) { condition(self) }
    }

    fileprivate func handle(_ request: DecodedTraceRequest, metadata: Metadata) async throws -> ExportTraceResponse {
        var rec = Received(metadata: metadata, data: nil, error: nil)
        switch request {
        case .data(let d): rec.data = d
        case .invalid(let m): rec.error = m
        case .tooLarge(let size, _): rec.error = "too large: \(size)"
        }
        let (index, script) = state.withLockedValue { s -> (Int, Script) in
            s.calls += 1
            return (s.calls - 1, s.script)
        }
        switch script(index, rec) {
        case .ok:
            state.withLockedValue { $0.received.append(rec) }
            return ExportTraceResponse()
        case .partial(let rejected, let message):
            state.withLockedValue { $0.received.append(rec) }
            return ExportTraceResponse(partialSuccess: .init(rejectedSpans: rejected, errorMessage: message))
        case .error(let code, let message, let delay):
            if let delay { throw RPCError.withRetryInfo(code, message: message, delay: delay) }
            throw RPCError(code: code, message: message)
        case .delay(let d):
            try? await Task.sleep(for: d)
            state.withLockedValue { $0.received.append(rec) }
            return ExportTraceResponse()
        }
    }
}

private struct FakeService: RegistrableRPCService {
    let fake: FakeGRPCTempo

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: OTLPTraceService.export, deserializer: TraceRequestDeserializer(), serializer: TraceResponseCodec()
        ) { [fake] request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: try await fake.handle(single.message, metadata: single.metadata)))
        }
    }
}
