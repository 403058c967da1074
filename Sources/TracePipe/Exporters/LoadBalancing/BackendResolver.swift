import NIOCore

/// Finds the backends of a loadbalancing exporter: a name list, sorted as the collector sorts
/// it (the ring depends on the order), each name what the ring hashes.
protocol BackendResolver: Sendable {
    /// The `resolver` label of the collector's metrics.
    var kind: String { get }
    /// How often to resolve again; nil when the list never changes.
    var interval: Duration? { get }
    func resolve() async throws -> [String]
}

struct StaticBackendResolver: BackendResolver {
    let hostnames: [String]
    var kind: String { "static" }
    var interval: Duration? { nil }

    func resolve() async throws -> [String] { hostnames }
}

/// `resolver.dns`: the A and AAAA records of `hostname` (a headless Service lists its ready
/// Pods), each as `address:port` — or the bare address when `port` is not set, as the
/// collector names them (the connection then uses 4317).
struct DNSBackendResolver: BackendResolver {
    let settings: LoadBalancingExporterConfig.DNSResolverSettings
    let client: DNSClient
    var kind: String { "dns" }
    var interval: Duration? { settings.interval.duration }

    init(settings: LoadBalancingExporterConfig.DNSResolverSettings, group: any EventLoopGroup) {
        self.settings = settings
        var files = ResolverFiles.load()
        if !settings.servers.isEmpty { files.nameservers = settings.servers.compactMap(DNSServerAddress.init) }
        client = DNSClient(files: files, group: group)
    }

    func resolve() async throws -> [String] {
        let addresses = try await client.lookup(settings.hostname, timeout: settings.timeout.duration)
        let named = Set(addresses).map { a -> String in
            let host = a.contains(":") ? "[\(a)]" : a
            return settings.port.isEmpty ? host : "\(host):\(settings.port)"
        }
        return named.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }
}
