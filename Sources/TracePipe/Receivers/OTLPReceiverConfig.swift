/// `receivers.otlp`: `protocols.http` (and, later, `protocols.grpc`).
public struct OTLPReceiverConfig: Decodable, Sendable {
    public struct HTTP: Decodable, Sendable {
        public var endpoint = Endpoint(host: "localhost", port: 4318)
        public var tracesURLPath = "/v1/traces"
        public var maxRequestBodySize = 20 * 1024 * 1024
        public var includeMetadata = false

        public init() {}

        enum Keys: String, CodingKey {
            case endpoint, traces_url_path, metrics_url_path, logs_url_path, max_request_body_size, include_metadata
            case compression_algorithms, cors, response_headers, tls, auth
            case read_timeout, read_header_timeout, write_timeout, idle_timeout, keep_alives_enabled
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            endpoint = try c.value(.endpoint, or: endpoint)
            var path = try c.value(.traces_url_path, or: tracesURLPath)
            if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<q]) }
            if !path.hasPrefix("/") { path = "/" + path }
            tracesURLPath = path
            let size = try c.value(.max_request_body_size, or: 0)
            guard size >= 0 else { throw decoder.invalid("max_request_body_size", "must not be negative") }
            if size > 0 { maxRequestBodySize = size }
            includeMetadata = try c.value(.include_metadata, or: false)
            // Accepted for compatibility: they do not change what tracepipe does for traces.
            for k in [Keys.metrics_url_path, .logs_url_path, .read_timeout, .read_header_timeout, .write_timeout, .idle_timeout, .keep_alives_enabled] {
                _ = c.contains(k)
            }
            for k in [Keys.compression_algorithms, .cors, .response_headers, .tls, .auth] where c.contains(k) {
                decoder.reportUnsupported(k.rawValue, "not supported yet by tracepipe's OTLP/HTTP receiver")
            }
        }
    }

    public var http: HTTP?

    public init(http: HTTP? = HTTP()) {
        self.http = http
    }

    enum Keys: String, CodingKey { case protocols }
    enum ProtocolKeys: String, CodingKey { case http, grpc }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        guard c.contains(.protocols) else {
            throw decoder.invalid("protocols", "required: must specify at least one protocol (http) when using the OTLP receiver")
        }
        let p = try c.nestedContainer(keyedBy: ProtocolKeys.self, forKey: .protocols)
        http = try p.section(.http, default: HTTP())
        if p.contains(.grpc) {
            let sub = try c.superDecoder(forKey: .protocols)
            sub.reportUnsupported("grpc", "the OTLP gRPC protocol is not supported yet; send OTLP/HTTP to protocols.http")
        }
        if http == nil && !p.contains(.grpc) {
            let present = (try c.decodeIfPresent(ConfigNode.self, forKey: .protocols))?.mappingPairs?.map(\.key) ?? []
            let found = present.map { "\"\($0)\"" + ConfigPath.suggestion(for: $0, among: ["http", "grpc"]) }
            throw decoder.invalid("protocols", "must specify at least one protocol (http or grpc) when using the OTLP receiver"
                + (found.isEmpty ? "" : "; found \(found.joined(separator: ", "))"))
        }
    }
}
