/// The collector's `configgrpc` server keys (`receivers.otlp.protocols.grpc`): where to listen,
/// the largest message, stream and keepalive limits, TLS.
public struct GRPCServerSettings: Decodable, Sendable, Equatable {
    public var endpoint = Endpoint(host: "localhost", port: 4317)
    /// `max_recv_msg_size_mib`: the largest (decompressed) request message.
    public var maxReceiveMessageBytes = 4 * 1024 * 1024
    /// `max_concurrent_streams`: 0 = tracepipe's default, 100 calls in flight per connection.
    public var maxConcurrentStreams = 0
    public var keepalive = Keepalive()
    public var tls: ServerTLSConfig?
    public var includeMetadata = false

    /// `keepalive.server_parameters` and `keepalive.enforcement_policy`, as in grpc-go. Zero
    /// durations mean "not set", which is grpc-go's default behaviour too.
    public struct Keepalive: Sendable, Equatable {
        public var maxConnectionIdle = ConfigDuration(nanoseconds: 0)
        public var maxConnectionAge = ConfigDuration(nanoseconds: 0)
        public var maxConnectionAgeGrace = ConfigDuration(nanoseconds: 0)
        /// How often the server pings an idle client (grpc-go: 2 h).
        public var time = ConfigDuration.seconds(7200)
        /// How long it waits for the ping's answer (grpc-go: 20 s).
        public var timeout = ConfigDuration.seconds(20)
        /// Clients pinging more often than this are told to go away (grpc-go: 5 min).
        public var minTime = ConfigDuration.seconds(300)
        public var permitWithoutStream = false

        public init() {}
    }

    public init() {}

    enum Keys: String, CodingKey {
        case endpoint, transport, tls, max_recv_msg_size_mib, max_concurrent_streams, read_buffer_size, write_buffer_size
        case keepalive, auth, include_metadata, middlewares
    }

    enum KeepaliveKeys: String, CodingKey { case server_parameters, enforcement_policy }
    enum ServerParameterKeys: String, CodingKey { case max_connection_idle, max_connection_age, max_connection_age_grace, time, timeout }
    enum EnforcementKeys: String, CodingKey { case min_time, permit_without_stream }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        endpoint = try c.value(.endpoint, or: endpoint)
        let transport = try c.value(.transport, or: "tcp")
        guard ["tcp", "tcp4", "tcp6", ""].contains(transport) else {
            throw decoder.invalid("transport", "only tcp is supported, got \"\(transport)\"")
        }
        let mib = try c.value(.max_recv_msg_size_mib, or: 0)
        guard mib >= 0 else { throw decoder.invalid("max_recv_msg_size_mib", "must not be negative") }
        if mib > 0 { maxReceiveMessageBytes = mib * 1024 * 1024 }
        let streams = try c.value(.max_concurrent_streams, or: 0)
        guard streams >= 0 else { throw decoder.invalid("max_concurrent_streams", "must not be negative") }
        maxConcurrentStreams = streams
        // Socket buffer sizes are tuned by the kernel and NIO here; accepted for compatibility.
        _ = try c.decodeIfPresent(Int.self, forKey: .read_buffer_size)
        _ = try c.decodeIfPresent(Int.self, forKey: .write_buffer_size)
        tls = try c.decodeIfPresent(ServerTLSConfig.self, forKey: .tls)
        includeMetadata = try c.value(.include_metadata, or: false)
        if c.contains(.keepalive), try c.decodeNil(forKey: .keepalive) == false {
            let k = try c.nestedContainer(keyedBy: KeepaliveKeys.self, forKey: .keepalive)
            if k.contains(.server_parameters), try k.decodeNil(forKey: .server_parameters) == false {
                let p = try k.nestedContainer(keyedBy: ServerParameterKeys.self, forKey: .server_parameters)
                keepalive.maxConnectionIdle = try p.value(.max_connection_idle, or: keepalive.maxConnectionIdle)
                keepalive.maxConnectionAge = try p.value(.max_connection_age, or: keepalive.maxConnectionAge)
                keepalive.maxConnectionAgeGrace = try p.value(.max_connection_age_grace, or: keepalive.maxConnectionAgeGrace)
                if let t = try p.decodeIfPresent(ConfigDuration.self, forKey: .time), t.nanoseconds > 0 { keepalive.time = t }
                if let t = try p.decodeIfPresent(ConfigDuration.self, forKey: .timeout), t.nanoseconds > 0 { keepalive.timeout = t }
            }
            if k.contains(.enforcement_policy), try k.decodeNil(forKey: .enforcement_policy) == false {
                let e = try k.nestedContainer(keyedBy: EnforcementKeys.self, forKey: .enforcement_policy)
                if let t = try e.decodeIfPresent(ConfigDuration.self, forKey: .min_time), t.nanoseconds > 0 { keepalive.minTime = t }
                keepalive.permitWithoutStream = try e.value(.permit_without_stream, or: false)
            }
        }
        for k in [Keys.auth, .middlewares] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "server authentication extensions and middlewares are not supported")
        }
    }
}
