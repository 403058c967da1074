import GRPCNIOTransportHTTP2Posix
import Logging

/// Maps the receiver's `tls:` settings onto grpc-swift's transport security. The files are first
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

/// grpc-swift always negotiates TLS 1.2 or newer and lets the peer pick the highest; other
/// version bounds cannot be passed to it, so say so instead of ignoring them silently.
private func warnAboutFixedVersions(minVersion: String, maxVersion: String?, logger: Logger) {
    if minVersion != "1.2" || maxVersion != nil {
        logger.warning("tls.min_version/max_version are not applied to gRPC connections: gRPC uses TLS 1.2 or 1.3", metadata: [
            "min_version": "\(minVersion)", "max_version": "\(maxVersion ?? "-")",
        ])
    }
}
