import GRPCCore
import GRPCNIOTransportHTTP2Posix
import TraceModel
import TracePipe

/// A gRPC OTLP client for tests: sends one Export call (raw bytes, so broken payloads can be
/// sent too) and returns the answer or the gRPC error.
public enum TestGRPCClient {
    public enum Security: Sendable {
        case plaintext
        /// TLS trusting the test CA; with `clientCert`, presents the test client certificate.
        case tls(TestCertificates, clientCert: Bool = false)
    }

    public static func export(
        _ payload: [UInt8], port: Int, host: String = "127.0.0.1", security: Security = .plaintext,
        metadata: Metadata = [:], compression: CompressionAlgorithm = .none, timeout: Duration = .seconds(10)
    ) async throws -> Result<ExportTraceResponse, RPCError> {
        let transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity
        switch security {
        case .plaintext:
            transportSecurity = .plaintext
        case .tls(let certs, let clientCert):
            var tls = HTTP2ClientTransport.Posix.TransportSecurity.TLS.defaults
            tls.trustRoots = .certificates([.file(path: certs.caCert, format: .pem)])
            if clientCert {
                tls.certificateChain = [.file(path: certs.clientCert, format: .pem)]
                tls.privateKey = .file(path: certs.clientKey, format: .pem)
            }
            transportSecurity = .tls(tls)
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: .dns(host: host, port: port), transportSecurity: transportSecurity,
            config: .defaults { $0.compression.enabledAlgorithms = .all })
        return try await withGRPCClient(transport: transport) { client in
            var options = CallOptions.defaults
            options.timeout = timeout
            options.compression = compression
            do {
                let answer = try await client.unary(
                    request: ClientRequest(message: payload, metadata: metadata), descriptor: OTLPTraceService.export,
                    serializer: RawBytesCodec(), deserializer: TraceResponseCodec(), options: options
                ) { try $0.message }
                return .success(answer)
            } catch let e as RPCError {
                return .failure(e)
            }
        }
    }
}
