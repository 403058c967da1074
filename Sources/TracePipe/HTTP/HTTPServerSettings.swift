import FoundationEssentials
import NIOSSL

/// The collector's `confighttp` server keys that tracepipe's HTTP receivers share: where to
/// listen, how big a body may be, CORS, TLS, extra response headers, timeouts.
public struct HTTPServerSettings: Sendable, Equatable {
    public var endpoint: Endpoint
    public var maxRequestBodySize = 20 * 1024 * 1024
    public var includeMetadata = false
    public var cors: CORSPolicy?
    public var tls: ServerTLSConfig?
    public var responseHeaders: [(name: String, value: String)] = []
    /// Time allowed to receive one whole request once it started (slow clients are cut off).
    public var readTimeout = ConfigDuration.seconds(30)
    /// Time a keep-alive connection may sit idle between requests.
    public var idleTimeout = ConfigDuration.seconds(120)
    /// At most this many open connections; more are closed at once.
    public var maxConnections = 4096

    public init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    public static func == (a: HTTPServerSettings, b: HTTPServerSettings) -> Bool {
        a.endpoint == b.endpoint && a.maxRequestBodySize == b.maxRequestBodySize && a.cors == b.cors && a.tls == b.tls
            && a.responseHeaders.map(\.name) == b.responseHeaders.map(\.name) && a.responseHeaders.map(\.value) == b.responseHeaders.map(\.value)
    }

    enum Keys: String, CodingKey {
        case endpoint, max_request_body_size, include_metadata, cors, tls, response_headers
        case read_timeout, read_header_timeout, write_timeout, idle_timeout, keep_alives_enabled
        case compression_algorithms, auth
    }

    /// Reads the server keys from a receiver's (or protocol's) mapping; the caller reads its own.
    public init(from decoder: any Decoder, defaultEndpoint: Endpoint) throws {
        self.init(endpoint: defaultEndpoint)
        let c = try decoder.container(keyedBy: Keys.self)
        endpoint = try c.value(.endpoint, or: defaultEndpoint)
        let size = try c.value(.max_request_body_size, or: 0)
        guard size >= 0 else { throw decoder.invalid("max_request_body_size", "must not be negative") }
        if size > 0 { maxRequestBodySize = size }
        includeMetadata = try c.value(.include_metadata, or: false)
        if c.contains(.cors) {
            let policy = try c.value(.cors, or: CORSPolicy())
            if policy.allowedOrigins.isEmpty {
                if !policy.allowedHeaders.isEmpty { decoder.warn("cors.allowed_headers is set without cors.allowed_origins: CORS stays off") }
            } else {
                cors = policy
            }
        }
        tls = try c.decodeIfPresent(ServerTLSConfig.self, forKey: .tls)
        if let h = try c.decodeIfPresent([String: String].self, forKey: .response_headers) {
            responseHeaders = h.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        // 0 (the otlp receiver's default) means no limit in the collector; tracepipe keeps a
        // bound on a request's read time so slow clients cannot hold connections forever.
        if let t = try c.decodeIfPresent(ConfigDuration.self, forKey: .read_timeout), t.nanoseconds > 0 { readTimeout = t }
        if let t = try c.decodeIfPresent(ConfigDuration.self, forKey: .idle_timeout), t.nanoseconds > 0 { idleTimeout = t }
        _ = try c.decodeIfPresent(ConfigDuration.self, forKey: .read_header_timeout)
        _ = try c.decodeIfPresent(ConfigDuration.self, forKey: .write_timeout)
        _ = try c.decodeIfPresent(Bool.self, forKey: .keep_alives_enabled)
        if let algorithms = try c.decodeIfPresent([String].self, forKey: .compression_algorithms) {
            let unknown = algorithms.filter { !["", "gzip", "zlib", "deflate", "zstd", "snappy", "lz4", "x-snappy-framed"].contains($0) }
            if !unknown.isEmpty { throw decoder.invalid("compression_algorithms", "unsupported compression algorithm(s) \(unknown)") }
        }
        if c.contains(.auth) {
            decoder.reportUnsupported("auth", "server authentication extensions are not supported")
        }
    }
}

/// `cors:` — which browser origins may send spans, answered on preflight requests.
public struct CORSPolicy: Decodable, Sendable, Equatable {
    public var allowedOrigins: [String] = []
    public var allowedHeaders: [String] = []
    public var exposedHeaders: [String] = []
    public var maxAge = 0

    public init() {}

    enum Keys: String, CodingKey { case allowed_origins, allowed_headers, exposed_headers, max_age }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        allowedOrigins = try c.value(.allowed_origins, or: [])
        allowedHeaders = try c.value(.allowed_headers, or: [])
        exposedHeaders = try c.value(.exposed_headers, or: [])
        maxAge = try c.value(.max_age, or: 0)
        for o in allowedOrigins where o.filter({ $0 == "*" }).count > 1 {
            throw decoder.invalid("allowed_origins", "\"\(o)\": at most one * per origin")
        }
    }

    /// Whether an `Origin` is allowed; `*` matches any run of characters.
    public func allows(origin: String) -> Bool {
        allowedOrigins.contains { pattern in
            guard let star = pattern.firstIndex(of: "*") else { return pattern.lowercased() == origin.lowercased() }
            let prefix = pattern[..<star].lowercased(), suffix = pattern[pattern.index(after: star)...].lowercased()
            let o = origin.lowercased()
            return o.count >= prefix.count + suffix.count && o.hasPrefix(prefix) && o.hasSuffix(suffix)
        }
    }

    static let safelisted: Set<String> = ["accept", "accept-language", "content-language", "content-type", "x-requested-with", "origin"]

    /// Whether every header a preflight asks for is allowed.
    public func allows(requestedHeaders: [String]) -> Bool {
        if allowedHeaders.contains("*") { return true }
        let allowed = Set(allowedHeaders.map { $0.lowercased() }).union(Self.safelisted)
        return requestedHeaders.allSatisfy { allowed.contains($0.lowercased()) }
    }
}
