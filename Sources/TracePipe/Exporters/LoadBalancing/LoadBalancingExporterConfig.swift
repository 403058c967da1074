/// `exporters.loadbalancing` (alias `load_balancing`): routes each trace (or each service) to
/// one backend of a tier, chosen on the collector's consistent-hash ring over the backends a
/// resolver finds, and sends it there with the otlp (gRPC) exporter's settings.
///
/// tracepipe has one sending queue, before routing (the collector has one per backend, which
/// loses what waits in it when that backend leaves): `sending_queue` and `retry_on_failure`
/// are read at the top level (the current collector's place) or, when absent there, under
/// `protocol.otlp` (the older place); `protocol.otlp.timeout` bounds each attempt.
public struct LoadBalancingExporterConfig: Decodable, Sendable {
    public enum RoutingKey: String, Sendable { case traceID, service }

    public var routingKey = RoutingKey.traceID
    /// The per-backend otlp settings; host and port come from the resolver.
    public var otlp: OTLPGRPCExporterConfig
    public var resolver: ResolverSettings
    /// The queue before routing, retries, and the per-attempt timeout.
    public var helper: ExporterHelperConfig
    public var affinity = Affinity()
    public var failover = Failover()

    public enum ResolverSettings: Sendable, Equatable {
        /// `static.hostnames`, sorted as the collector sorts them (the ring depends on order).
        case fixed([String])
        case dns(DNSResolverSettings)
    }

    public struct DNSResolverSettings: Sendable, Equatable {
        public var hostname: String
        /// As written; empty means "not set": backends are then dialled on 4317 but enter the
        /// ring as the bare address, exactly as the collector does.
        public var port: String
        public var interval = ConfigDuration.seconds(5)
        public var timeout = ConfigDuration.seconds(1)
        /// tracepipe: DNS servers to ask (`host:port`), instead of /etc/resolv.conf's.
        public var servers: [String] = []
    }

    /// tracepipe: traces keep their backend for `window` after they were last routed, whatever
    /// the ring does meanwhile; at most `max_traces` are remembered.
    public struct Affinity: Decodable, Sendable, Equatable {
        public var window = ConfigDuration.seconds(30)
        public var maxTraces = 200_000

        public init() {}

        enum Keys: String, CodingKey { case window, max_traces }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            window = try c.value(.window, or: window)
            maxTraces = try c.value(.max_traces, or: maxTraces)
            guard window.nanoseconds >= 0 else { throw decoder.invalid("window", "must not be negative (0 turns affinity off)") }
            guard maxTraces >= 0 else { throw decoder.invalid("max_traces", "must not be negative (0 turns affinity off)") }
        }

        var enabled: Bool { window.nanoseconds > 0 && maxTraces > 0 }
    }

    /// tracepipe: a backend whose attempts fail `failures` times in a row (refused,
    /// UNAVAILABLE, timeouts) is marked down; its traces go to its successor on the ring until a
    /// probe every `probe_interval` finds it answering again.
    public struct Failover: Decodable, Sendable, Equatable {
        public var enabled = true
        public var failures = 2
        public var probeInterval = ConfigDuration.seconds(1)

        public init() {}

        enum Keys: String, CodingKey { case enabled, failures, probe_interval }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            enabled = try c.value(.enabled, or: true)
            failures = try c.value(.failures, or: failures)
            probeInterval = try c.value(.probe_interval, or: probeInterval)
            guard failures >= 1 else { throw decoder.invalid("failures", "must be at least 1") }
            guard probeInterval.nanoseconds > 0 else { throw decoder.invalid("probe_interval", "must be greater than zero") }
        }
    }

    enum Keys: String, CodingKey {
        case routing_key, `protocol`, resolver, timeout, sending_queue, retry_on_failure, trace_affinity, failover
    }
    enum ProtocolKeys: String, CodingKey { case otlp, otlphttp }
    enum ResolverKeys: String, CodingKey { case `static`, dns, k8s, aws_cloud_map }
    enum StaticKeys: String, CodingKey { case hostnames }
    enum DNSKeys: String, CodingKey { case hostname, port, interval, timeout, servers }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let key = try c.value(.routing_key, or: "traceID")
        switch key {
        case "", "traceID": routingKey = .traceID
        case "service": routingKey = .service
        case "resource", "metric", "streamID", "attributes":
            throw decoder.invalid("routing_key", "\"\(key)\" is not supported for traces by tracepipe (use traceID or service)")
        default:
            throw decoder.invalid("routing_key", "unsupported routing_key \"\(key)\" (expected traceID or service)")
        }

        guard c.contains(.protocol) else {
            throw decoder.invalid("protocol", "required: protocol.otlp with the settings for the backends (tls, compression, …)")
        }
        let p = try c.nestedContainer(keyedBy: ProtocolKeys.self, forKey: .protocol)
        let pd = try c.superDecoder(forKey: .protocol)
        if p.contains(.otlphttp) {
            throw pd.invalid("otlphttp", "tracepipe's loadbalancing exporter sends OTLP over gRPC only: use protocol.otlp")
        }
        // A missing protocol.otlp decodes as an empty mapping: the otlp exporter's defaults.
        otlp = try OTLPGRPCExporterConfig(from: try p.superDecoder(forKey: .otlp), endpointFromResolver: true)

        resolver = try Self.decodeResolver(c, decoder)

        // One queue, before routing: the top level's settings win, then protocol.otlp's.
        var helper = otlp.helper
        if c.contains(.sending_queue) || c.contains(.retry_on_failure) {
            let top = try ExporterHelperConfig(from: decoder, defaultTimeout: otlp.helper.timeout)
            if c.contains(.sending_queue) { helper.queue = top.queue }
            if c.contains(.retry_on_failure) { helper.retry = top.retry }
        } else {
            _ = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout)
        }
        self.helper = helper
        affinity = try c.value(.trace_affinity, or: Affinity())
        failover = try c.value(.failover, or: Failover())
    }

    private static func decodeResolver(_ c: KeyedDecodingContainer<Keys>, _ decoder: any Decoder) throws -> ResolverSettings {
        guard c.contains(.resolver) else {
            throw decoder.invalid("resolver", "required: resolver.static.hostnames (a fixed list) or resolver.dns.hostname (e.g. a headless Service)")
        }
        let r = try c.nestedContainer(keyedBy: ResolverKeys.self, forKey: .resolver)
        let rd = try c.superDecoder(forKey: .resolver)
        let given = ResolverKeys.allCases.filter { r.contains($0) }
        if given.count > 1 {
            throw rd.invalid("only one resolver may be given, found \(given.map(\.rawValue).joined(separator: " and "))")
        }
        if r.contains(.k8s) {
            throw rd.invalid("k8s", "the k8s resolver is not supported by tracepipe: use resolver.dns with the tier's headless Service "
                + "(hostname: <service>.<namespace>.svc.cluster.local, port: 4317), which lists the same Pod addresses")
        }
        if r.contains(.aws_cloud_map) {
            throw rd.invalid("aws_cloud_map", "the aws_cloud_map resolver is not supported by tracepipe: use resolver.dns or resolver.static")
        }
        if r.contains(.static) {
            let s = try r.nestedContainer(keyedBy: StaticKeys.self, forKey: .static)
            let sd = try r.superDecoder(forKey: .static)
            let hostnames = try s.value(.hostnames, or: [String]())
            guard !hostnames.isEmpty else { throw sd.invalid("hostnames", "required: at least one backend, e.g. [gateway-1:4317, gateway-2:4317]") }
            for (i, h) in hostnames.enumerated() where BackendAddress(endpoint: h) == nil {
                throw sd.invalid("hostnames[\(i)]", "expected host or host:port, got \"\(h)\"")
            }
            // Go's sort.Strings: byte order.
            return .fixed(hostnames.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        }
        if r.contains(.dns) {
            let d = try r.nestedContainer(keyedBy: DNSKeys.self, forKey: .dns)
            let dd = try r.superDecoder(forKey: .dns)
            let hostname = try d.value(.hostname, or: "").trimmingSpaces()
            guard !hostname.isEmpty else { throw dd.invalid("hostname", "required: the name to resolve, e.g. tracepipe-gateway.observability.svc.cluster.local") }
            var settings = DNSResolverSettings(hostname: hostname, port: "")
            if let port = try? d.decodeIfPresent(Int.self, forKey: .port) {
                settings.port = String(port)
            } else {
                settings.port = try d.value(.port, or: "")
            }
            if !settings.port.isEmpty, Int(settings.port).map({ (1...65535).contains($0) }) != true {
                throw dd.invalid("port", "expected a port number (1-65535), got \"\(settings.port)\"")
            }
            settings.interval = try d.value(.interval, or: settings.interval)
            settings.timeout = try d.value(.timeout, or: settings.timeout)
            // The collector treats 0 as "use the default".
            if settings.interval.nanoseconds == 0 { settings.interval = .seconds(5) }
            if settings.timeout.nanoseconds == 0 { settings.timeout = .seconds(1) }
            guard settings.interval.nanoseconds > 0 else { throw dd.invalid("interval", "must be greater than zero") }
            guard settings.timeout.nanoseconds > 0 else { throw dd.invalid("timeout", "must be greater than zero") }
            settings.servers = try d.value(.servers, or: [String]())
            for (i, s) in settings.servers.enumerated() where DNSServerAddress(s) == nil {
                throw dd.invalid("servers[\(i)]", "expected an IP address with an optional port (127.0.0.1:5353, [::1]:53), got \"\(s)\"")
            }
            return .dns(settings)
        }
        throw rd.invalid("expected static (hostnames) or dns (hostname)")
    }
}

extension LoadBalancingExporterConfig.ResolverKeys: CaseIterable {}

extension LoadBalancingExporterConfig: ReferencesExtensions {
    public var extensionReferences: [(key: String, id: ComponentID)] {
        (helper.queue.storage.map { [("sending_queue.storage", $0)] } ?? [])
            + (otlp.auth.map { [("protocol.otlp.auth.authenticator", $0.authenticator)] } ?? [])
    }
}

/// Where to dial one backend, from how the resolver names it: `host:port`, `[v6]:port`, or a
/// bare host (port 4317, as the collector adds it).
struct BackendAddress: Hashable, Sendable {
    static let defaultPort = 4317
    var host: String
    var port: Int

    init?(endpoint: String) {
        let text = endpoint.trimmingSpaces()
        guard !text.isEmpty, !text.contains("/") else { return nil }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                port = Self.defaultPort
            } else {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if let colon = text.firstIndex(of: ":") {
            // As the collector: a colon means a port is given (a bare IPv6 address needs brackets).
            guard text[text.index(after: colon)...].firstIndex(of: ":") == nil,
                  let p = Int(text[text.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            host = String(text[..<colon])
            port = p
        } else {
            host = text
            port = Self.defaultPort
        }
        guard !host.isEmpty else { return nil }
    }
}
