import NIOSSL

/// `tls:` of a server: its certificate and, for mTLS, the CA clients must be signed by.
public struct ServerTLSConfig: Decodable, Sendable, Equatable {
    public var certFile: String?
    public var certPEM: String?
    public var keyFile: String?
    public var keyPEM: String?
    public var clientCAFile: String?
    public var minVersion = "1.2"
    public var maxVersion: String?

    public init(certFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
    }

    enum Keys: String, CodingKey {
        case cert_file, cert_pem, key_file, key_pem, client_ca_file, ca_file, min_version, max_version, reload_interval, cipher_suites
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        certFile = try c.decodeIfPresent(String.self, forKey: .cert_file).flatMap { $0.isEmpty ? nil : $0 }
        certPEM = try c.decodeIfPresent(String.self, forKey: .cert_pem).flatMap { $0.isEmpty ? nil : $0 }
        keyFile = try c.decodeIfPresent(String.self, forKey: .key_file).flatMap { $0.isEmpty ? nil : $0 }
        keyPEM = try c.decodeIfPresent(String.self, forKey: .key_pem).flatMap { $0.isEmpty ? nil : $0 }
        clientCAFile = try c.decodeIfPresent(String.self, forKey: .client_ca_file).flatMap { $0.isEmpty ? nil : $0 }
        _ = try c.decodeIfPresent(String.self, forKey: .ca_file)
        minVersion = try c.value(.min_version, or: "1.2")
        maxVersion = try c.decodeIfPresent(String.self, forKey: .max_version)
        guard ClientTLSConfig.version(minVersion) != nil else { throw decoder.invalid("min_version", "expected \"1.0\" … \"1.3\", got \"\(minVersion)\"") }
        guard (certFile ?? certPEM) != nil, (keyFile ?? keyPEM) != nil else {
            throw decoder.invalid("a server needs both cert_file and key_file for TLS")
        }
        if c.contains(.reload_interval) { decoder.warn("tls.reload_interval is ignored: certificates are read at start") }
        if c.contains(.cipher_suites) { decoder.reportUnsupported("cipher_suites", "choosing TLS cipher suites is not supported") }
    }

    /// `applicationProtocols`: ALPN names to accept (`h2` for gRPC).
    public func makeContext(applicationProtocols: [String] = []) throws -> NIOSSLContext {
        do {
            let chain = try certFile.map { try NIOSSLCertificate.fromPEMFile($0) } ?? NIOSSLCertificate.fromPEMBytes(Array(certPEM!.utf8))
            let key = try keyFile.map { try NIOSSLPrivateKey(file: $0, format: .pem) } ?? NIOSSLPrivateKey(bytes: Array(keyPEM!.utf8), format: .pem)
            var c = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            c.minimumTLSVersion = ClientTLSConfig.version(minVersion) ?? .tlsv12
            if let m = maxVersion { c.maximumTLSVersion = ClientTLSConfig.version(m) }
            c.applicationProtocols = applicationProtocols
            if let ca = clientCAFile {
                c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
                c.certificateVerification = .noHostnameVerification
            }
            return try NIOSSLContext(configuration: c)
        } catch {
            throw TLSSetupError(message: "cannot set up the server's TLS (cert_file \(certFile ?? "-"), key_file \(keyFile ?? "-"), client_ca_file \(clientCAFile ?? "-")): \(error)")
        }
    }
}
