import Foundation
import NIOCore
import NIOHTTP1

/// tracepipe's own metrics in the Prometheus text format at `/metrics`, with the collector's
/// names and labels (no `_total` or unit suffixes, as the collector's default reader), so
/// existing dashboards and alerts keep working.
public enum PrometheusMetrics {
    static let started = Date()

    public static func render(level: TelemetryConfig.MetricsLevel, registry: TelemetryRegistry = .shared) -> String {
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
        let snap = registry.snapshot
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
            let batches = registry.allBatches
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
        family("otelcol_process_memory_rss", "gauge", "Resident memory in bytes.", [([], "\(ProcessMemory.residentBytes())")])
        family("otelcol_process_cpu_seconds", "counter", "User and system CPU time in seconds.", [([], format(cpuSeconds()))])
        // The collector's Go runtime series, where Swift has an equivalent: glibc's heap.
        let heap = ProcessMemory.heap()
        family("otelcol_process_runtime_heap_alloc_bytes", "gauge", "Bytes of heap in use (glibc malloc).", [([], "\(heap.inUse)")])
        family("otelcol_process_runtime_total_sys_memory_bytes", "gauge", "Bytes of heap obtained from the system (glibc malloc).", [([], "\(heap.fromSystem)")])
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ d: Double) -> String { String(format: "%.3f", d) }

    /// utime + stime of this process, from /proc/self/stat.
    static func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Serves `/metrics` on `service.telemetry.metrics`' address.
final class MetricsServer: Sendable {
    private let server: HTTPServer
    var port: Int { server.port }

    private init(server: HTTPServer) {
        self.server = server
    }

    static func start(_ endpoint: Endpoint, level: TelemetryConfig.MetricsLevel, group: any EventLoopGroup) async throws -> MetricsServer {
        let options = HTTPServer.Options(maxBodySize: 64 * 1024) { _ in .text(.payloadTooLarge, "too large") }
        let s = try await HTTPServer.start(host: endpoint.host, port: endpoint.port, group: group, options: options) { request in
            guard request.path == "/metrics" else { return .text(.notFound, "404 page not found\n", contentType: "text/plain; charset=utf-8") }
            return .text(.ok, PrometheusMetrics.render(level: level), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        return MetricsServer(server: s)
    }

    func shutdown() async {
        await server.shutdown(grace: .milliseconds(100))
    }
}
