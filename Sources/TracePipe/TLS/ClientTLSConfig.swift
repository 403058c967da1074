import FoundationEssentials
import NIOSSL

/// `tls:` of a client (an exporter): how to verify the server and, for mTLS, who we are.
public struct ClientTLSConfig: Decodable, Sendable, Equatable {
    public var insecure = false
    public var insecureSkipVerify = false
    public var caFile: String?
    public var caPEM: String?
    public var certFile: String?
    public var certPEM: String?
    public var keyFile: String?
    public var keyPEM: String?
    public var serverNameOverride: String?
    public var minVersion = "1.2"
    public var maxVersion: String?
    public var includeSystemCACertsPool = false

    public init() {}

    enum Keys: String, CodingKey {
        case insecure, insecure_skip_verify, ca_file, ca_pem, cert_file, cert_pem, key_file, key_pem
        case server_name_override, min_version, max_version, include_system_ca_certs_pool, reload_interval, cipher_suites, curve_preferences
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        insecure = try c.value(.insecure, or: false)
        insecureSkipVerify = try c.value(.insecure_skip_verify, or: false)
        caFile = try c.decodeIfPresent(String.self, forKey: .ca_file).flatMap { $0.isEmpty ? nil : $0 }
        caPEM = try c.decodeIfPresent(String.self, forKey: .ca_pem).flatMap { $0.isEmpty ? nil : $0 }
        certFile = try c.decodeIfPresent(String.self, forKey: .cert_file).flatMap { $0.isEmpty ? nil : $0 }
        certPEM = try c.decodeIfPresent(String.self, forKey: .cert_pem).flatMap { $0.isEmpty ? nil : $0 }
        keyFile = try c.decodeIfPresent(String.self, forKey: .key_file).flatMap { $0.isEmpty ? nil : $0 }
        keyPEM = try c.decodeIfPresent(String.self, forKey: .key_pem).flatMap { $0.isEmpty ? nil : $0 }
        serverNameOverride = try c.decodeIfPresent(String.self, forKey: .server_name_override).flatMap { $0.isEmpty ? nil : $0 }
        minVersion = try c.value(.min_version, or: "1.2")
        if minVersion.isEmpty { minVersion = "1.2" }
        maxVersion = try c.decodeIfPresent(String.self, forKey: .max_version).flatMap { $0.isEmpty ? nil : $0 }
        includeSystemCACertsPool = try c.value(.include_system_ca_certs_pool, or: false)
        guard Self.version(minVersion) != nil else { throw decoder.invalid("min_version", "expected \"1.0\", \"1.1\", \"1.2\" or \"1.3\", got \"\(minVersion)\"") }
        if let m = maxVersion, Self.version(m) == nil { throw decoder.invalid("max_version", "expected \"1.0\", \"1.1\", \"1.2\" or \"1.3\", got \"\(m)\"") }
        if (certFile != nil || certPEM != nil) != (keyFile != nil || keyPEM != nil) {
            throw decoder.invalid("for client certificates (mTLS) set both cert_file and key_file")
        }
        if c.contains(.reload_interval) { decoder.warn("tls.reload_interval is ignored: certificates are read at start") }
        for k in [Keys.cipher_suites, .curve_preferences] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "choosing TLS cipher suites or curves is not supported")
        }
    }

    static func version(_ s: String) -> TLSVersion? {
        switch s {
        case "1.0": return .tlsv1
        case "1.1": return .tlsv11
        case "1.2": return .tlsv12
        case "1.3": return .tlsv13
        default: return nil
        }
    }

    /// Builds the TLS context; throws a readable error when a file cannot be read or parsed.
    /// `applicationProtocols`: ALPN names to offer (`h2` for gRPC).
    public func makeContext(applicationProtocols: [String] = []) throws -> NIOSSLContext {
        var c = TLSConfiguration.makeClientConfiguration()
        c.applicationProtocols = applicationProtocols
        c.minimumTLSVersion = Self.version(minVersion) ?? .tlsv12
        if let m = maxVersion { c.maximumTLSVersion = Self.version(m) }
        do {
            var custom: [NIOSSLCertificate] = []
            if let f = caFile { custom += try NIOSSLCertificate.fromPEMFile(f) }
            if let p = caPEM { custom += try NIOSSLCertificate.fromPEMBytes(Array(p.utf8)) }
            if !custom.isEmpty {
                if includeSystemCACertsPool {
                    c.trustRoots = .default
                    c.additionalTrustRoots = [.certificates(custom)]
                } else {
                    c.trustRoots = .certificates(custom)
                }
            }
            if insecureSkipVerify { c.certificateVerification = .none }
            if let f = certFile {
                c.certificateChain = try NIOSSLCertificate.fromPEMFile(f).map { .certificate($0) }
            } else if let p = certPEM {
                c.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(p.utf8)).map { .certificate($0) }
            }
            if let f = keyFile {
                c.privateKey = .privateKey(try NIOSSLPrivateKey(file: f, format: .pem))
            } else if let p = keyPEM {
                c.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(p.utf8), format: .pem))
            }
            return try NIOSSLContext(configuration: c)
        } catch {
            throw TLSSetupError(message: "cannot set up TLS (ca_file \(caFile ?? "-"), cert_file \(certFile ?? "-"), key_file \(keyFile ?? "-")): \(error)")
        }
    }
}

public struct TLSSetupError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
