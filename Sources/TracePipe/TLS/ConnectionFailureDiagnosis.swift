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

    /// What went wrong under a failed gRPC call, with its fix; nil when the call failed for a
    /// reason of the server's own (a status it answered).
    static func explainGRPC(_ error: any Error, usingTLS: Bool) -> String? {
        var causes: [any Error] = []
        var next: (any Error)? = (error as? RPCErrorCauseChain)?.underlying
        while let c = next, causes.count < 8 {
            causes.append(c)
            next = (c as? RPCErrorCauseChain)?.underlying
        }
        if let tls = causes.first(where: isTLSError) { return describe(tls, transport: .grpc) }
        let text = ([String(describing: error)] + causes.map { String(reflecting: $0) }).joined(separator: " ").lowercased()
        if !usingTLS, text.contains("before completing the http/2 connection preface") {
            // A TLS server drops a client that opens with the plaintext HTTP/2 preface.
            return "the server expects TLS on this port: remove tls.insecure: true (or write the endpoint as https://host:port)"
        }
        if usingTLS, text.contains("wrong version number") || text.contains("wrong_version_number") || text.contains("packet_length_too_long") {
            return "the server does not speak TLS on this port (\(plaintextAdvice(.grpc)))"
        }
        return causes.last.map { String(describing: $0) }
    }
}

/// Lets the diagnosis walk gRPC's error causes without this file importing gRPC.
protocol RPCErrorCauseChain {
    var underlying: (any Error)? { get }
}
