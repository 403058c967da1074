import FoundationEssentials
import NIOConcurrencyHelpers
import Prometheus

/// The instruments of one running service, handed to every component in its context. A
/// component declares its own instrument set (`ReceiverCounters`, `ExporterCounters`, …) in its
/// own folder; the instruments are swift-prometheus's, registered in this service's
/// `PrometheusCollectorRegistry`, which renders `/metrics` with the collector's names and labels.
/// One registry per service, no process-wide state (no `MetricsSystem.bootstrap`), so tests and
/// several services in one process do not share counts.
public final class TelemetryRegistry: Sendable {
    /// Instruments above this level go to a registry nobody reads (the collector's `level`).
    public let level: TelemetryConfig.MetricsLevel
    let prometheus = PrometheusCollectorRegistry()
    private let unexposed = PrometheusCollectorRegistry()
    /// Exporters by id: the health check lists them. Other instrument sets need no such list;
    /// the Prometheus registry hands back the same series for the same name and labels.
    private let exporters = NIOLockedValueBox<[ComponentID: ExporterCounters]>([:])
    private let started = Date()

    public init(level: TelemetryConfig.MetricsLevel = .normal) {
        self.level = level
    }

    /// Where instruments of `minimum` level are registered: the exposed registry when the
    /// configured level includes them.
    func registry(for minimum: TelemetryConfig.MetricsLevel) -> PrometheusCollectorRegistry {
        level.includes(minimum) ? prometheus : unexposed
    }

    /// The exporter's instruments and health figures, created on first use.
    public func exporter(_ id: ComponentID) -> ExporterCounters {
        exporters.withLockedValue { all in
            if let e = all[id] { return e }
            let e = ExporterCounters(id: id, registry: self)
            all[id] = e
            return e
        }
    }

    public var allExporters: [ExporterCounters] {
        exporters.withLockedValue { Array($0.values) }.sorted { $0.id < $1.id }
    }

    /// The Prometheus text exposition, with the process's figures read now.
    public func exposition(process: any ProcessStatistics) -> String {
        let p = registry(for: .basic)
        // Uptime and CPU time are counters in the collector's exposition: set to their reading.
        for (counter, value) in [
            (p.counter(name: "otelcol_process_uptime", help: "Uptime of the process in seconds."), Date().timeIntervalSince(started)),
            (p.counter(name: "otelcol_process_cpu_seconds", help: "User and system CPU time in seconds."), process.cpuSeconds()),
        ] {
            counter.reset()
            counter.increment(by: value)
        }
        p.gauge(name: "otelcol_process_memory_rss", help: "Resident memory in bytes.").set(Double(process.residentBytes()))
        // The collector's Go runtime series, where Swift has an equivalent: glibc's heap.
        let heap = process.heap()
        p.gauge(name: "otelcol_process_runtime_heap_alloc_bytes", help: "Bytes of heap in use (glibc malloc).").set(Double(heap.inUse))
        p.gauge(name: "otelcol_process_runtime_total_sys_memory_bytes", help: "Bytes of heap obtained from the system (glibc malloc).")
            .set(Double(heap.fromSystem))
        return prometheus.emitToString()
    }
}

extension TelemetryRegistry {
    /// One sample of the exposition: the value of series `name` with exactly `labels` (in the
    /// order they were declared), nil when there is none. For tests and diagnostics.
    func sample(_ name: String, _ labels: [(String, String)] = []) -> Double? {
        let series = labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
        for line in prometheus.emitToString().split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}

extension TelemetryConfig.MetricsLevel {
    /// Whether this configured level exposes instruments of level `other`.
    func includes(_ other: Self) -> Bool {
        let order: [Self] = [.none, .basic, .normal, .detailed]
        return order.firstIndex(of: self)! >= order.firstIndex(of: other)!
    }
}

extension PrometheusCollectorRegistry {
    // The collector's metric names are taken whole (no unit suffix), with their HELP texts.
    func counter(name: String, labels: [(String, String)] = [], help: String) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func gauge(name: String, labels: [(String, String)] = [], help: String) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    func valueHistogram(name: String, labels: [(String, String)], buckets: [Double], help: String) -> ValueHistogram {
        makeValueHistogram(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels, buckets: buckets)
    }
}
