import Foundation
import NIOCore
import NIOHTTP1
import TraceModel

/// `extensions.health_check` (v1 behaviour): `200 {"status":"Server available",…}` while the
/// pipelines run, `503 {"status":"Server not available",…}` while starting and once stopping.
public struct HealthCheckConfig: Decodable, Sendable {
    public struct ResponseBody: Decodable, Sendable {
        public var healthy: String?
        public var unhealthy: String?
    }

    public struct PipelineCheck: Decodable, Sendable {
        public var enabled = false
        public var interval = ConfigDuration(nanoseconds: 5 * 60 * 1_000_000_000)
        public var exporterFailureThreshold = 5

        enum Keys: String, CodingKey { case enabled, interval, exporter_failure_threshold }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            enabled = try c.value(.enabled, or: false)
            interval = try c.value(.interval, or: interval)
            exporterFailureThreshold = try c.value(.exporter_failure_threshold, or: 5)
            guard exporterFailureThreshold >= 0 else { throw decoder.invalid("exporter_failure_threshold", "must not be negative") }
            guard interval.nanoseconds > 0 else { throw decoder.invalid("interval", "must be greater than zero") }
        }
    }

    public var endpoint = Endpoint(host: "localhost", port: 13133)
    public var path = "/"
    public var responseBody: ResponseBody?
    public var checkCollectorPipeline = PipelineCheck()

    public init() {}

    enum Keys: String, CodingKey {
        case endpoint, path, response_body, check_collector_pipeline, tls, cors, auth, include_metadata, max_request_body_size
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        endpoint = try c.value(.endpoint, or: endpoint)
        path = try c.value(.path, or: "/")
        if path.isEmpty { path = "/" }
        guard path.hasPrefix("/") else { throw decoder.invalid("path", "must start with \"/\", got \"\(path)\"") }
        responseBody = try c.decodeIfPresent(ResponseBody.self, forKey: .response_body)
        checkCollectorPipeline = try c.value(.check_collector_pipeline, or: PipelineCheck())
        _ = c.contains(.include_metadata)
        _ = c.contains(.max_request_body_size)
        for k in [Keys.tls, .cors, .auth] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "not supported yet on the health_check extension")
        }
    }
}

public final class HealthCheckExtension: Extension {
    let config: HealthCheckConfig
    let context: ComponentContext
    private let server = ServerBox()

    public init(config: HealthCheckConfig, context: ComponentContext) {
        self.config = config
        self.context = context
    }

    public func start(_ host: ComponentHost) async throws {
        let options = HTTPServer.Options(maxBodySize: 64 * 1024, closeAfterResponse: true) { _ in
            .text(.payloadTooLarge, "request body too large")
        }
        let status = host.status
        let s = try await HTTPServer.start(
            host: config.endpoint.host, port: config.endpoint.port, group: context.eventLoopGroup, options: options
        ) { [config, context] request in
            HealthCheckExtension.answer(request, config: config, state: status.state, exporters: context.telemetry.allExporters)
        }
        server.set(s)
        context.logger.info("health check listening", metadata: ["endpoint": "\(config.endpoint.host):\(s.port)", "path": "\(config.path)"])
    }

    public func shutdown() async {
        await server.take()?.shutdown(grace: .milliseconds(100))
    }

    static func answer(_ request: HTTPRequest, config: HealthCheckConfig, state: ServiceStatus.State, exporters: [ExporterCounters] = [],
                       now: Date = Date()) -> HTTPResponse {
        let base = config.path.hasSuffix("/") ? String(config.path.dropLast()) : config.path
        // Liveness: the process is up and serving, whatever the pipelines do (restarting a pod
        // because Tempo is down would only lose what is queued in memory).
        if request.path == base + "/livez" {
            return json(.ok, #"{"status":"alive"}"#, request)
        }
        var failing: [(ExporterCounters, Int, String?)] = []
        if config.checkCollectorPipeline.enabled {
            for e in exporters {
                let recent = e.recentFailures(within: config.checkCollectorPipeline.interval.duration)
                if recent.count > config.checkCollectorPipeline.exporterFailureThreshold { failing.append((e, recent.count, recent.lastError)) }
            }
        }
        if request.path == base + "/status" {
            return detail(request, config: config, state: state, exporters: exporters, failing: failing.map { $0.0.id }, now: now)
        }
        // The default path "/" matches every path (Go's ServeMux prefix rule); others are exact.
        guard config.path == "/" || request.path == config.path else {
            var r = HTTPResponse.text(.notFound, "404 page not found\n", contentType: "text/plain; charset=utf-8")
            r.headers.add(name: "X-Content-Type-Options", value: "nosniff")
            return r
        }
        let status: HTTPResponseStatus
        let body: String
        switch state {
        case .ready where !failing.isEmpty:
            let names = failing.map { "\($0.0.id)" }.joined(separator: ", ")
            status = .serviceUnavailable
            body = config.responseBody?.unhealthy ?? #"{"status":"Server not available: exporter(s) failing: "# + names + #"","upSince":"0001-01-01T00:00:00Z","uptime":""}"#
        case .ready(let since):
            status = .ok
            body = config.responseBody?.healthy
                ?? "{\"status\":\"Server available\",\"upSince\":\"\(rfc3339Nano(since))\",\"uptime\":\"\(ConfigDuration.format(Int64(now.timeIntervalSince(since) * 1e9)))\"}"
        case .starting, .stopping:
            status = .serviceUnavailable
            body = config.responseBody?.unhealthy
                ?? "{\"status\":\"Server not available\",\"upSince\":\"0001-01-01T00:00:00Z\",\"uptime\":\"\"}"
        }
        var r = HTTPResponse(status: status, headers: ["Content-Type": "application/json"])
        if request.method != .HEAD { r.body = ByteBuffer(string: body) }
        return r
    }

    static func json(_ status: HTTPResponseStatus, _ body: String, _ request: HTTPRequest) -> HTTPResponse {
        var r = HTTPResponse(status: status, headers: ["Content-Type": "application/json"])
        if request.method != .HEAD { r.body = ByteBuffer(string: body) }
        return r
    }

    /// `<path>/status`: every exporter's delivery state, for people (and dashboards) asking why.
    static func detail(_ request: HTTPRequest, config: HealthCheckConfig, state: ServiceStatus.State, exporters: [ExporterCounters],
                       failing: [ComponentID], now: Date) -> HTTPResponse {
        var out: [UInt8] = []
        let ready: Bool
        switch state {
        case .ready: ready = failing.isEmpty
        default: ready = false
        }
        out.append(contentsOf: "{\"status\":\"\(ready ? "Server available" : "Server not available")\",\"exporters\":[".utf8)
        for (i, e) in exporters.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            let recent = e.recentFailures(within: config.checkCollectorPipeline.interval.duration)
            out.append(contentsOf: "{\"id\":".utf8)
            JSONText.appendString("\(e.id)", to: &out)
            out.append(contentsOf: ",\"healthy\":\(!failing.contains(e.id)),\"recent_failures\":\(recent.count),\"sent_spans\":\(e.sentSpans),\"failed_spans\":\(e.failedSpansTotal),\"queue_size\":\(e.queueSize),\"queue_capacity\":\(e.queueCapacity),\"last_error\":".utf8)
            if let err = recent.lastError { JSONText.appendString(err, to: &out) } else { out.append(contentsOf: "null".utf8) }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "]}".utf8)
        return json(ready ? .ok : .serviceUnavailable, String(decoding: out, as: UTF8.self), request)
    }

    /// RFC 3339 with nanoseconds and trailing zeros trimmed, as Go prints `time.RFC3339Nano`.
    static func rfc3339Nano(_ d: Date) -> String {
        let secs = floor(d.timeIntervalSince1970)
        var t = time_t(secs)
        var tm = tm()
        gmtime_r(&t, &tm)
        var s = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
        let nanos = Int((d.timeIntervalSince1970 - secs) * 1e9)
        if nanos > 0 {
            var f = String(format: "%09d", nanos)
            while f.hasSuffix("0") { f.removeLast() }
            s += "." + f
        }
        return s + "Z"
    }
}
