import Foundation
import GRPCNIOTransportHTTP2Posix
import Logging

/// Maps the collector's `tls:` settings onto grpc-swift's transport security. The files are first
/// loaded through our own TLS setup, so a missing or broken file fails at start with the same
/// readable error as the HTTP components give.
extension ServerTLSConfig {
    func grpcTransportSecurity(logger: Logger) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        _ = try makeContext()
        warnAboutFixedVersions(minVersion: minVersion, maxVersion: maxVersion, logger: logger)
        let chain = certFile.map { TLSConfig.CertificateSource.file(path: $0, format: .pem) }
            ?? .bytes(Array((certPEM ?? "").utf8), format: .pem)
        let key = keyFile.map { TLSConfig.PrivateKeySource.file(path: $0, format: .pem) }
            ?? .bytes(Array((keyPEM ?? "").utf8), format: .pem)
        guard let ca = clientCAFile else {
            return .tls(.defaults(certificateChain: [chain], privateKey: key))
        }
        return .tls(.mTLS(certificateChain: [chain], privateKey: key) { tls in
            tls.trustRoots = .certificates([.file(path: ca, format: .pem)])
        })
    }
}

extension ClientTLSConfig {
    /// Plaintext when `insecure` (or an `http://` endpoint) says so, else TLS as configured.
    func grpcTransportSecurity(plaintext: Bool, logger: Logger) throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        if plaintext { return .plaintext }
        _ = try makeContext()
        warnAboutFixedVersions(minVersion: minVersion, maxVersion: maxVersion, logger: logger)
        var tls = HTTP2ClientTransport.Posix.TransportSecurity.TLS.defaults
        if let f = certFile {
            tls.certificateChain = [.file(path: f, format: .pem)]
        } else if let p = certPEM {
            tls.certificateChain = [.bytes(Array(p.utf8), format: .pem)]
        }
        if let f = keyFile {
            tls.privateKey = .file(path: f, format: .pem)
        } else if let p = keyPEM {
            tls.privateKey = .bytes(Array(p.utf8), format: .pem)
        }
        var roots: [TLSConfig.CertificateSource] = []
        if let f = caFile { roots.append(.file(path: f, format: .pem)) }
        if let p = caPEM { roots.append(.bytes(Array(p.utf8), format: .pem)) }
        if !roots.isEmpty {
            // grpc-swift takes one trust source: add the system bundle by file when both are asked for.
            if includeSystemCACertsPool, let bundle = Self.systemCABundle { roots.append(.file(path: bundle, format: .pem)) }
            tls.trustRoots = .certificates(roots)
        }
        if insecureSkipVerify { tls.serverCertificateVerification = .noVerification }
        return .tls(tls)
    }

    /// Debian/Ubuntu, RHEL/Fedora and Alpine locations of the system CA bundle.
    static var systemCABundle: String? {
        ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]
            .first { FileManager.default.fileExists(atPath: $0) }
    }
}

/// grpc-swift always negotiates TLS 1.2 or newer and lets the peer pick the highest; other
/// version bounds cannot be passed to it, so say so instead of ignoring them silently.
private func warnAboutFixedVersions(minVersion: String, maxVersion: String?, logger: Logger) {
    if minVersion != "1.2" || maxVersion != nil {
        logger.warning("tls.min_version/max_version are not applied to gRPC connections: gRPC uses TLS 1.2 or 1.3", metadata: [
            "min_version": "\(minVersion)", "max_version": "\(maxVersion ?? "-")",
        ])
    }
}
