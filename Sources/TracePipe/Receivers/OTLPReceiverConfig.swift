/// `receivers.otlp`: `protocols.http` and `protocols.grpc`; each present protocol is served.
public struct OTLPReceiverConfig: Decodable, Sendable {
    public struct HTTP: Decodable, Sendable {
        public var server = HTTPServerSettings(endpoint: Endpoint(host: "localhost", port: 4318))
        public var tracesURLPath = "/v1/traces"

        public var endpoint: Endpoint {
            get { server.endpoint }
            set { server.endpoint = newValue }
        }

        public var maxRequestBodySize: Int {
            get { server.maxRequestBodySize }
            set { server.maxRequestBodySize = newValue }
        }

        public init() {}

        enum Keys: String, CodingKey { case traces_url_path, metrics_url_path, logs_url_path }

        public init(from decoder: any Decoder) throws {
            server = try HTTPServerSettings(from: decoder, defaultEndpoint: Endpoint(host: "localhost", port: 4318))
            let c = try decoder.container(keyedBy: Keys.self)
            var path = try c.value(.traces_url_path, or: tracesURLPath)
            if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<q]) }
            if !path.hasPrefix("/") { path = "/" + path }
            tracesURLPath = path
            // Accepted: other signals' paths do not matter for traces.
            _ = try c.decodeIfPresent(String.self, forKey: .metrics_url_path)
            _ = try c.decodeIfPresent(String.self, forKey: .logs_url_path)
        }
    }

    public var http: HTTP?
    public var grpc: GRPCServerSettings?

    public init(http: HTTP? = HTTP(), grpc: GRPCServerSettings? = nil) {
        self.http = http
        self.grpc = grpc
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
        grpc = try p.section(.grpc, default: GRPCServerSettings())
        if http == nil && grpc == nil {
            let present = (try c.decodeIfPresent(ConfigNode.self, forKey: .protocols))?.mappingPairs?.map(\.key) ?? []
            let found = present.map { "\"\($0)\"" + ConfigPath.suggestion(for: $0, among: ["http", "grpc"]) }
            throw decoder.invalid("protocols", "must specify at least one protocol (http or grpc) when using the OTLP receiver"
                + (found.isEmpty ? "" : "; found \(found.joined(separator: ", "))"))
        }
    }
}
