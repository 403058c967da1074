import NIOConcurrencyHelpers
import Prometheus

/// The loadbalancing exporter's instruments: the collector's `otelcol_loadbalancer_*` series
/// (resolutions, backends, backend updates, outcome and latency per backend) and tracepipe's
/// own for what the collector does not do (spans routed per backend, backends down, reroutes,
/// the affinity table).
final class LoadBalancerCounters: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let exporter: (String, String)
    let resolver: String
    /// Per-backend instruments, made once: the send path should not look series up by name.
    private let perEndpoint = NIOLockedValueBox<[String: Backend]>([:])

    struct Backend {
        var succeeded: Counter
        var failed: Counter
        var latency: ValueHistogram
        var routed: Counter
        var up: Gauge
    }

    /// Set on every routed request: made once.
    private let affinityTraces: Gauge
    private let affinityEvicted: Gauge
    private let reroutedDown: Counter
    private let reroutedAffinity: Counter

    init(id: ComponentID, resolver: String, registry: TelemetryRegistry) {
        let r = registry.registry(for: .basic)
        self.registry = r
        let exporter = ("exporter", "\(id)")
        self.exporter = exporter
        self.resolver = resolver
        affinityTraces = r.gauge(name: "tracepipe_loadbalancer_affinity_traces", labels: [exporter],
                                 help: "Traces remembered with their backend (a tracepipe addition).")
        affinityEvicted = r.gauge(name: "tracepipe_loadbalancer_affinity_evicted_traces", labels: [exporter],
                                  help: "Traces forgotten before their window ended because the table was full (a tracepipe addition).")
        let reroutedHelp = "Spans not sent to the ring's choice of backend, by reason (a tracepipe addition)."
        reroutedDown = r.counter(name: "tracepipe_loadbalancer_rerouted_spans", labels: [exporter, ("reason", "backend_down")], help: reroutedHelp)
        reroutedAffinity = r.counter(name: "tracepipe_loadbalancer_rerouted_spans", labels: [exporter, ("reason", "affinity")], help: reroutedHelp)
    }

    func resolution(success: Bool) {
        registry.counter(name: "otelcol_loadbalancer_num_resolutions", labels: [exporter, ("resolver", resolver), ("success", "\(success)")],
                         help: "Number of times the resolver has triggered new resolutions.").increment()
    }

    func membership(backends: Int) {
        registry.gauge(name: "otelcol_loadbalancer_num_backends", labels: [exporter, ("resolver", resolver)],
                       help: "Current number of backends in use.").set(Double(backends))
        registry.counter(name: "otelcol_loadbalancer_num_backend_updates", labels: [exporter, ("resolver", resolver)],
                         help: "Number of times the list of backends was updated.").increment()
    }

    private func backend(_ endpoint: String) -> Backend {
        perEndpoint.withLockedValue { all in
            if let b = all[endpoint] { return b }
            let e = ("endpoint", endpoint)
            let outcomeHelp = "Number of successes and failures for each endpoint."
            let b = Backend(
                succeeded: registry.counter(name: "otelcol_loadbalancer_backend_outcome", labels: [exporter, e, ("success", "true")], help: outcomeHelp),
                failed: registry.counter(name: "otelcol_loadbalancer_backend_outcome", labels: [exporter, e, ("success", "false")], help: outcomeHelp),
                latency: registry.valueHistogram(name: "otelcol_loadbalancer_backend_latency", labels: [exporter, e],
                                                 buckets: [5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
                                                 help: "Response latency in ms for the backends."),
                routed: registry.counter(name: "tracepipe_loadbalancer_routed_spans", labels: [exporter, e],
                                         help: "Spans delivered to each backend (a tracepipe addition)."),
                up: registry.gauge(name: "tracepipe_loadbalancer_backend_up", labels: [exporter, e],
                                   help: "1 when the backend is up, 0 while it is marked down, -1 once it left the membership (a tracepipe addition)."))
            all[endpoint] = b
            return b
        }
    }

    func outcome(endpoint: String, success: Bool, milliseconds: Double) {
        let b = backend(endpoint)
        (success ? b.succeeded : b.failed).increment()
        b.latency.record(milliseconds)
    }

    func routed(endpoint: String, spans: Int) {
        backend(endpoint).routed.increment(by: Int64(spans))
    }

    /// Spans sent to a backend other than the ring's choice: `backend_down` (failover to the
    /// successor) or `affinity` (a trace kept on the backend it started on after the ring changed).
    func rerouted(afterFailover failover: Int, byAffinity affinity: Int) {
        if failover > 0 { reroutedDown.increment(by: Int64(failover)) }
        if affinity > 0 { reroutedAffinity.increment(by: Int64(affinity)) }
    }

    /// nil: the backend left the membership; its series reads -1 rather than vanishing silently.
    func backendState(endpoint: String, up: Bool?) {
        backend(endpoint).up.set(Double(up.map { $0 ? 1 : 0 } ?? -1))
    }

    func backendsDown(_ n: Int) {
        registry.gauge(name: "tracepipe_loadbalancer_backends_down", labels: [exporter],
                       help: "Backends currently marked down and skipped (a tracepipe addition).").set(Double(n))
    }

    func affinity(traces: Int, evicted: Int) {
        affinityTraces.set(Double(traces))
        affinityEvicted.set(Double(evicted))
    }
}
