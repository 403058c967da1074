import NIOCore
import NIOSSL

/// Names the usual reasons a connection to Tempo fails — the questions people ask first when
/// Tempo sits behind TLS — with the config key that fixes each. The HTTP and gRPC exporters
/// share it; only the advice for a plaintext/TLS mismatch differs between them.
public enum ConnectionFailureDiagnosis {
    public enum Transport: Sendable {
        case http
        case grpc
    }

    public static func isTLSError(_ error: any Error) -> Bool {
        error is NIOSSLError || error is NIOSSLExtraError || String(reflecting: error).contains("SSL")
    }

    /// A readable cause: TLS failures named the way users search for them, with their fix.
    public static func describe(_ error: any Error, transport: Transport) -> String {
        let text = String(describing: error)
        let lower = String(reflecting: error).lowercased()
        if isTLSError(error) {
            if lower.contains("hostname") || lower.contains("name mismatch") {
                return "certificate name mismatch (the certificate does not name this host; set tls.server_name_override or fix the endpoint): \(text)"
            }
            if lower.contains("expired") {
                return "certificate has expired: \(text)"
            }
            if lower.contains("self signed") || lower.contains("self-signed") || lower.contains("unknown ca") || lower.contains("issuer")
                || lower.contains("certificate_verify_failed") || lower.contains("certificate verify failed") {
                return "unknown certificate authority (for a self-signed or private CA set tls.ca_file; tls.insecure_skip_verify for testing only): \(text)"
            }
            if lower.contains("wrong_version_number") || lower.contains("wrong version number") || lower.contains("packet_length_too_long")
                || lower.contains("http_request") {
                return "the server does not speak TLS on this port (\(plaintextAdvice(transport))): \(text)"
            }
            return text
        }
        if let io = error as? IOError { return io.description }
        return text
    }

    static func plaintextAdvice(_ transport: Transport) -> String {
        switch transport {
        case .http: return "use http:// for a plaintext endpoint"
        case .grpc: return "set tls.insecure: true, or write the endpoint as http://host:port"
        }
    }
}
