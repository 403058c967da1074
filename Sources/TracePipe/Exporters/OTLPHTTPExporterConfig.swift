/// `exporters.otlphttp` (new name `otlp_http`): OTLP over HTTP to Tempo or any OTLP backend.
public struct OTLPHTTPExporterConfig: Decodable, Sendable {
    public enum Encoding: String, ConfigEnum { case proto, json }
    public enum Compression: Sendable, Equatable {
        case none
        case gzip
        case zlib
    }

    /// Where traces go: `traces_endpoint` as given, or `endpoint` + `/v1/traces`.
    public var target: HTTPTarget
    /// False when only `metrics_endpoint`/`logs_endpoint`/`profiles_endpoint` are set.
    public var hasTracesEndpoint = true
    public var encoding = Encoding.proto
    public var compression = Compression.gzip
    /// zlib level 1…9 (-1: zlib's default). tracepipe's default is 1: on trace data it costs about
    /// a third of level 6's CPU for bodies a little larger.
    public var compressionLevel: Int32 = 1
    public var headers: [(name: String, value: String)] = []
    public var timeout = ConfigDuration.seconds(30)
    public var tls = ClientTLSConfig()
    public var helper: ExporterHelperConfig
    /// `auth.authenticator`: an extension that sets headers per request (headers_setter).
    public var auth: ClientAuthConfig?

    enum Keys: String, CodingKey {
        case endpoint, traces_endpoint, metrics_endpoint, logs_endpoint, profiles_endpoint
        case encoding, compression, compression_params, headers, timeout, tls, auth, proxy_url
        case read_buffer_size, write_buffer_size, max_idle_conns, max_idle_conns_per_host, max_conns_per_host
        case idle_conn_timeout, disable_keep_alives, http2_read_idle_timeout, http2_ping_timeout, cookies
    }

    enum CompressionParamsKeys: String, CodingKey { case level }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint).flatMap { $0.isEmpty ? nil : $0 }
        let tracesEndpoint = try c.decodeIfPresent(String.self, forKey: .traces_endpoint).flatMap { $0.isEmpty ? nil : $0 }
        let otherSignalEndpoints = try [Keys.metrics_endpoint, .logs_endpoint, .profiles_endpoint].filter {
            try !(c.decodeIfPresent(String.self, forKey: $0) ?? "").isEmpty
        }
        if let t = tracesEndpoint {
            guard let parsed = HTTPTarget.parse(t) else {
                throw decoder.invalid("traces_endpoint", "traces_endpoint must be a valid URL (http:// or https://), got \"\(t)\"")
            }
            target = parsed
        } else if let e = endpoint {
            let url = e.hasSuffix("/") ? e + "v1/traces" : e + "/v1/traces"
            guard let parsed = HTTPTarget.parse(url) else {
                throw decoder.invalid("endpoint", "expected a URL such as http://tempo:4318, got \"\(e)\"")
            }
            target = parsed
        } else if otherSignalEndpoints.isEmpty {
            throw decoder.invalid("endpoint", "either endpoint or traces_endpoint must be specified")
        } else {
            // Valid for the collector (it may serve a logs or metrics pipeline); tracepipe can only
            // refuse to start it in a traces pipeline.
            target = HTTPTarget(tls: false, host: "", port: 0, path: "")
            hasTracesEndpoint = false
        }
        encoding = try c.value(.encoding, or: .proto)
        let compressionText = try c.value(.compression, or: "gzip")
        switch compressionText {
        case "gzip": compression = .gzip
        case "zlib", "deflate": compression = .zlib
        case "", "none": compression = .none
        case "zstd", "snappy", "lz4", "x-snappy-framed":
            decoder.reportUnsupported("compression", "compression \"\(compressionText)\" is not supported yet (use gzip or none)")
            compression = .gzip
        default:
            throw decoder.invalid("compression", "unsupported compression type \"\(compressionText)\" (expected gzip, zlib, deflate or none)")
        }
        if c.contains(.compression_params) {
            let p = try c.nestedContainer(keyedBy: CompressionParamsKeys.self, forKey: .compression_params)
            if let level = try p.decodeIfPresent(Int32.self, forKey: .level) {
                guard level == -1 || (1...9).contains(level) else {
                    throw decoder.invalid("compression_params", "level must be 1..9 or -1, got \(level)")
                }
                compressionLevel = level
            }
        }
        if let h = try c.decodeIfPresent([String: String].self, forKey: .headers) {
            headers = h.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        timeout = try c.value(.timeout, or: timeout)
        guard timeout.nanoseconds >= 0 else { throw decoder.invalid("timeout", "must not be negative") }
        tls = try c.value(.tls, or: ClientTLSConfig())
        // Connection-pool tuning of Go's HTTP client: each sending task keeps one connection here.
        for k in [Keys.read_buffer_size, .write_buffer_size, .max_idle_conns, .max_idle_conns_per_host, .max_conns_per_host,
                  .idle_conn_timeout, .disable_keep_alives, .http2_read_idle_timeout, .http2_ping_timeout] {
            _ = try c.decodeIfPresent(ConfigNode.self, forKey: k)
        }
        auth = try c.decodeIfPresent(ClientAuthConfig.self, forKey: .auth)
        for k in [Keys.proxy_url, .cookies] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "not supported yet by tracepipe's otlphttp exporter")
        }
        // The helper's per-attempt timeout is off: the HTTP request timeout above bounds each attempt.
        helper = try ExporterHelperConfig(from: decoder, defaultTimeout: .seconds(30))
        helper.timeout = ConfigDuration(nanoseconds: 0)
    }
}

extension OTLPHTTPExporterConfig: ReferencesExtensions {
    public var extensionReferences: [(key: String, id: ComponentID)] {
        (helper.queue.storage.map { [("sending_queue.storage", $0)] } ?? []) + (auth.map { [("auth.authenticator", $0.authenticator)] } ?? [])
    }
}
