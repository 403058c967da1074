/// `exporters.otlp` (new name `otlp_grpc`): OTLP over gRPC to Tempo or any OTLP backend.
public struct OTLPGRPCExporterConfig: Decodable, Sendable {
    /// Host and port to dial.
    public var host: String
    public var port: Int
    /// Whether the connection is plaintext: an `http://` endpoint or `tls.insecure: true`. As in
    /// the collector, a bare `host:port` means TLS.
    public var plaintext: Bool
    /// How the endpoint was written, for messages.
    public var endpointText: String
    public var compression = Compression.gzip
    public var headers: [(name: String, value: String)] = []
    public var tls = ClientTLSConfig()
    public var keepalive: Keepalive?
    public var waitForReady = false
    public var balancer = Balancer.pickFirst
    /// `authority`: the `:authority` header and TLS server name, when not the endpoint's host.
    public var authority: String?
    public var helper: ExporterHelperConfig
    /// `auth.authenticator`: an extension that sets headers per request (headers_setter).
    public var auth: ClientAuthConfig?

    public enum Compression: String, Sendable { case gzip, none }
    public enum Balancer: String, Sendable { case pickFirst = "pick_first", roundRobin = "round_robin" }

    /// `keepalive` of grpc-go's client: ping after `time` without activity, fail after `timeout`.
    public struct Keepalive: Decodable, Sendable, Equatable {
        public var time = ConfigDuration.seconds(0)
        public var timeout = ConfigDuration.seconds(20)
        public var permitWithoutStream = false

        enum Keys: String, CodingKey { case time, timeout, permit_without_stream }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            time = try c.value(.time, or: time)
            timeout = try c.value(.timeout, or: timeout)
            permitWithoutStream = try c.value(.permit_without_stream, or: false)
            guard time.nanoseconds >= 0, timeout.nanoseconds >= 0 else { throw decoder.invalid("durations must not be negative") }
        }
    }

    enum Keys: String, CodingKey {
        case endpoint, compression, headers, tls, keepalive, wait_for_ready, balancer_name, authority
        case read_buffer_size, write_buffer_size, auth, middlewares
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: decoder, endpointFromResolver: false)
    }

    /// `endpointFromResolver`: the settings are a template (the loadbalancing exporter's
    /// `protocol.otlp`); `endpoint` is ignored, as in the collector, and each backend gets its
    /// own through `withEndpoint`.
    init(from decoder: any Decoder, endpointFromResolver: Bool) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let endpoint = endpointFromResolver ? "placeholder:4317" : try c.value(.endpoint, or: "")
        if endpointFromResolver { _ = try c.decodeIfPresent(String.self, forKey: .endpoint) }
        tls = try c.value(.tls, or: ClientTLSConfig())
        guard let parsed = Self.parseEndpoint(endpoint) else {
            throw decoder.invalid("endpoint", endpoint.isEmpty
                ? "required: the gRPC endpoint, e.g. tempo:4317 (TLS) or http://tempo:4317 (plaintext)"
                : "expected host:port (or http:// / https:// with host:port), got \"\(endpoint)\"")
        }
        endpointText = endpoint
        (host, port) = (parsed.host, parsed.port)
        switch parsed.scheme {
        case "http": plaintext = true
        case "https": plaintext = false
        default: plaintext = tls.insecure
        }
        let compressionText = try c.value(.compression, or: "gzip")
        switch compressionText {
        case "gzip": compression = .gzip
        case "", "none": compression = .none
        case "zstd", "snappy", "deflate", "zlib", "lz4":
            decoder.reportUnsupported("compression", "compression \"\(compressionText)\" is not supported for gRPC yet (use gzip or none)")
        default:
            throw decoder.invalid("compression", "unsupported compression type \"\(compressionText)\" (expected gzip or none)")
        }
        if let h = try c.decodeIfPresent([String: String].self, forKey: .headers) {
            // gRPC metadata keys are lower case; Tempo reads x-scope-orgid whatever its spelling in the config.
            headers = h.sorted { $0.key < $1.key }.map { ($0.key.lowercased(), $0.value) }
            for (name, _) in headers where !Self.isValidMetadataKey(name) {
                throw decoder.invalid("headers", "\"\(name)\" is not a valid gRPC metadata key (letters, digits, - _ . only)")
            }
        }
        keepalive = try c.decodeIfPresent(Keepalive.self, forKey: .keepalive)
        waitForReady = try c.value(.wait_for_ready, or: false)
        let balancerText = try c.value(.balancer_name, or: "")
        switch balancerText {
        case "", "pick_first": balancer = .pickFirst
        case "round_robin": balancer = .roundRobin
        default: throw decoder.invalid("balancer_name", "expected pick_first or round_robin, got \"\(balancerText)\"")
        }
        authority = try c.decodeIfPresent(String.self, forKey: .authority).flatMap { $0.isEmpty ? nil : $0 }
        _ = try c.decodeIfPresent(Int.self, forKey: .read_buffer_size)
        _ = try c.decodeIfPresent(Int.self, forKey: .write_buffer_size)
        auth = try c.decodeIfPresent(ClientAuthConfig.self, forKey: .auth)
        for k in [Keys.middlewares] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "not supported yet by tracepipe's otlp exporter")
        }
        // The collector's otlp exporter: each attempt is bounded by `timeout` (default 5 s).
        helper = try ExporterHelperConfig(from: decoder, defaultTimeout: .seconds(5))
    }

    /// These settings for one backend of the loadbalancing exporter: a bare `host:port`, plaintext
    /// when `tls.insecure` is set, as the collector builds its per-backend otlp exporters.
    func withEndpoint(host: String, port: Int) -> OTLPGRPCExporterConfig {
        var c = self
        c.host = host
        c.port = port
        c.endpointText = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        c.plaintext = tls.insecure
        return c
    }

    /// `host:port`, `http://host:port` or `https://host:port` (a trailing `/` allowed), as the
    /// collector's gRPC client accepts them.
    static func parseEndpoint(_ text: String) -> (scheme: String?, host: String, port: Int)? {
        var rest = Substring(text.trimmingSpaces())
        var scheme: String?
        for s in ["http", "https"] where rest.lowercased().hasPrefix(s + "://") {
            scheme = s
            rest = rest.dropFirst(s.count + 3)
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains("/") else { return nil }
        return (scheme, host, port)
    }

    static func isValidMetadataKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x5F || b == 0x2E
        }
    }
}

extension OTLPGRPCExporterConfig: ReferencesExtensions {
    public var extensionReferences: [(key: String, id: ComponentID)] {
        (helper.queue.storage.map { [("sending_queue.storage", $0)] } ?? []) + (auth.map { [("auth.authenticator", $0.authenticator)] } ?? [])
    }
}
