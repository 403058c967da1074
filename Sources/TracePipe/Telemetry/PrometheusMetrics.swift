import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// tracepipe's own metrics in the Prometheus text format at `/metrics`, with the collector's
/// names and labels (no `_total` or unit suffixes, as the collector's default reader), so
/// existing dashboards and alerts keep working.
public enum PrometheusMetrics {
    static let started = Date()

    public static func render(level: TelemetryConfig.MetricsLevel, registry: TelemetryRegistry, process: any ProcessStatistics) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            guard !samples.isEmpty else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for s in samples {
                let labels = s.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                out += labels.isEmpty ? "\(name) \(s.value)\n" : "\(name){\(labels)} \(s.value)\n"
            }
        }
        func histograms(_ name: String, _ help: String, _ series: [(labels: [(String, String)], histogram: Histogram)]) {
            guard !series.isEmpty else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for (labels, h) in series {
                let base = labels.map { "\($0.0)=\"\(escape($0.1))\"" }
                for (le, n) in h.cumulative {
                    out += "\(name)_bucket{\((base + ["le=\"\(le)\""]).joined(separator: ","))} \(n)\n"
                }
                let suffix = base.isEmpty ? "" : "{\(base.joined(separator: ","))}"
                out += "\(name)_sum\(suffix) \(format(h.sum))\n\(name)_count\(suffix) \(h.count)\n"
            }
        }
        let snap = (receivers: registry.all(ReceiverCounters.self), exporters: registry.allExporters,
                    samplers: registry.all(SamplerCounters.self), tailSamplers: registry.all(TailSamplingCounters.self))
        family("otelcol_receiver_accepted_spans", "counter", "Spans successfully pushed into the pipeline.",
               snap.receivers.map { ([("receiver", "\($0.id)"), ("transport", $0.transport)], "\($0.acceptedSpans.load(ordering: .relaxed))") })
        family("otelcol_receiver_refused_spans", "counter", "Spans that could not be pushed into the pipeline.",
               snap.receivers.map { ([("receiver", "\($0.id)"), ("transport", $0.transport)], "\($0.refusedSpans.load(ordering: .relaxed))") })
        family("otelcol_exporter_sent_spans", "counter", "Spans successfully sent to destination.",
               snap.exporters.map { ([("exporter", "\($0.id)")], "\($0.sentSpans.load(ordering: .relaxed))") })
        family("otelcol_exporter_send_failed_spans", "counter", "Spans in failed attempts to send to destination (after retries), by reason.",
               snap.exporters.flatMap { e -> [(labels: [(String, String)], value: String)] in
                   let failed = e.failedSpans
                   if failed.isEmpty { return [([("exporter", "\(e.id)"), ("reason", "none")], "0")] }
                   return failed.sorted { $0.key < $1.key }.map { ([("exporter", "\(e.id)"), ("reason", $0.key)], "\($0.value)") }
               })
        family("otelcol_exporter_enqueue_failed_spans", "counter", "Spans that failed to be added to the sending queue.",
               snap.exporters.map { ([("exporter", "\($0.id)")], "\($0.enqueueFailedSpans.load(ordering: .relaxed))") })
        family("otelcol_exporter_queue_size", "gauge", "Current size of the retry queue (in its sizer's units).",
               snap.exporters.filter { $0.queueCapacity.load(ordering: .relaxed) > 0 }
                   .map { ([("exporter", "\($0.id)"), ("data_type", "traces")], "\($0.queueSize.load(ordering: .relaxed))") })
        family("otelcol_exporter_queue_capacity", "gauge", "Fixed capacity of the retry queue (in its sizer's units).",
               snap.exporters.filter { $0.queueCapacity.load(ordering: .relaxed) > 0 }
                   .map { ([("exporter", "\($0.id)"), ("data_type", "traces")], "\($0.queueCapacity.load(ordering: .relaxed))") })
        histograms("tracepipe_exporter_send_duration_seconds", "Seconds per send attempt to the destination, whatever its outcome (a tracepipe addition).",
                   snap.exporters.map { ([("exporter", "\($0.id)")], $0.sendDuration) })
        if level == .normal || level == .detailed {
            let batches = registry.all(BatchCounters.self)
            histograms("otelcol_processor_batch_batch_send_size", "Number of spans in each batch sent on.",
                       batches.map { ([("processor", "\($0.id)")], $0.sendSize) })
            family("otelcol_processor_batch_batch_size_trigger_send", "counter", "Batches sent because send_batch_size was reached.",
                   batches.map { ([("processor", "\($0.id)")], "\($0.sizeTriggerSend.load(ordering: .relaxed))") })
            family("otelcol_processor_batch_timeout_trigger_send", "counter", "Batches sent because the timeout expired.",
                   batches.map { ([("processor", "\($0.id)")], "\($0.timeoutTriggerSend.load(ordering: .relaxed))") })
            family("otelcol_processor_batch_metadata_cardinality", "gauge", "Metadata-value combinations with a batch being collected.",
                   batches.map { ([("processor", "\($0.id)")], "\($0.metadataCardinality.load(ordering: .relaxed))") })
            family("otelcol_processor_probabilistic_sampler_count_traces_sampled", "counter", "Spans sampled or not by the probabilistic sampler.",
                   snap.samplers.flatMap { s in [
                       ([("processor", "\(s.id)"), ("policy", "trace_id_hash"), ("sampled", "true")], "\(s.sampled.load(ordering: .relaxed))"),
                       ([("processor", "\(s.id)"), ("policy", "trace_id_hash"), ("sampled", "false")], "\(s.dropped.load(ordering: .relaxed))"),
                   ] })
            family("otelcol_processor_tail_sampling_count_traces_sampled", "counter", "Traces sampled or not per policy.",
                   snap.tailSamplers.flatMap { t in t.policies.enumerated().flatMap { i, p in [
                       ([("processor", "\(t.id)"), ("policy", p), ("sampled", "true")], "\(t.policySampled[i].load(ordering: .relaxed))"),
                       ([("processor", "\(t.id)"), ("policy", p), ("sampled", "false")], "\(t.policyNotSampled[i].load(ordering: .relaxed))"),
                   ] } })
            family("otelcol_processor_tail_sampling_global_count_traces_sampled", "counter", "Traces sampled or not after combining all policies.",
                   snap.tailSamplers.flatMap { t in [
                       ([("processor", "\(t.id)"), ("sampled", "true")], "\(t.tracesSampled.load(ordering: .relaxed))"),
                       ([("processor", "\(t.id)"), ("sampled", "false")], "\(t.tracesNotSampled.load(ordering: .relaxed))"),
                   ] })
            family("otelcol_processor_tail_sampling_sampling_traces_on_memory", "gauge", "Traces waiting for a decision.",
                   snap.tailSamplers.map { ([("processor", "\($0.id)")], "\($0.tracesOnMemory.load(ordering: .relaxed))") })
            family("otelcol_processor_tail_sampling_new_trace_id_received", "counter", "Traces seen for the first time.",
                   snap.tailSamplers.map { ([("processor", "\($0.id)")], "\($0.newTraces.load(ordering: .relaxed))") })
            family("otelcol_processor_tail_sampling_sampling_trace_decided_early", "counter",
                   "Traces decided before decision_wait because num_traces was reached (the collector drops these: sampling_trace_dropped_too_early).",
                   snap.tailSamplers.map { ([("processor", "\($0.id)")], "\($0.decidedEarly.load(ordering: .relaxed))") })
            family("otelcol_processor_tail_sampling_sampling_late_span", "counter", "Spans that arrived after their trace was decided.",
                   snap.tailSamplers.map { ([("processor", "\($0.id)")], "\($0.lateSpans.load(ordering: .relaxed))") })
        }
        family("otelcol_process_uptime", "counter", "Uptime of the process in seconds.", [([], format(Date().timeIntervalSince(started)))])
        family("otelcol_process_memory_rss", "gauge", "Resident memory in bytes.", [([], "\(process.residentBytes())")])
        family("otelcol_process_cpu_seconds", "counter", "User and system CPU time in seconds.", [([], format(process.cpuSeconds()))])
        // The collector's Go runtime series, where Swift has an equivalent: glibc's heap.
        let heap = process.heap()
        family("otelcol_process_runtime_heap_alloc_bytes", "gauge", "Bytes of heap in use (glibc malloc).", [([], "\(heap.inUse)")])
        family("otelcol_process_runtime_total_sys_memory_bytes", "gauge", "Bytes of heap obtained from the system (glibc malloc).", [([], "\(heap.fromSystem)")])
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ d: Double) -> String { String(format: "%.3f", d) }
}

/// Serves `/metrics` on `service.telemetry.metrics`' address; a service of its own, started
/// first and stopped last.
final class MetricsEndpoint: Component {
    let address: Endpoint
    let level: TelemetryConfig.MetricsLevel
    let registry: TelemetryRegistry
    let process: any ProcessStatistics
    let group: any EventLoopGroup
    let logger: Logger
    private let server = ServerBox()

    init(address: Endpoint, level: TelemetryConfig.MetricsLevel, registry: TelemetryRegistry, process: any ProcessStatistics,
         group: any EventLoopGroup, logger: Logger) {
        self.address = address
        self.level = level
        self.registry = registry
        self.process = process
        self.group = group
        self.logger = logger
    }

    func start(_ host: ComponentHost) async throws {
        let options = HTTPServer.Options(maxBodySize: 64 * 1024) { _ in .text(.payloadTooLarge, "too large") }
        let (level, registry, process) = (level, registry, process)
        let s: HTTPServer
        do {
            s = try await HTTPServer.start(host: address.host, port: address.port, group: group, options: options) { request in
                guard request.path == "/metrics" else { return .text(.notFound, "404 page not found\n", contentType: "text/plain; charset=utf-8") }
                return .text(.ok, PrometheusMetrics.render(level: level, registry: registry, process: process),
                             contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        } catch {
            throw StartError(message: "\(address) (service.telemetry.metrics): \(error)")
        }
        server.set(s)
        logger.info("own metrics served", metadata: ["endpoint": "\(address.host):\(s.port)", "path": "/metrics"])
    }

    func shutdown() async {
        await server.take()?.shutdown(grace: .milliseconds(100))
    }
}
