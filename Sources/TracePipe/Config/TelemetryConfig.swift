/// `service.telemetry`: tracepipe's own logs and metrics.
public struct TelemetryConfig: Decodable, Sendable, Equatable {
    public enum LogLevel: String, ConfigEnum {
        case debug, info, warn, error, dpanic, panic, fatal
    }

    public enum LogEncoding: String, ConfigEnum {
        case console, json
    }

    public enum MetricsLevel: String, ConfigEnum {
        case none, basic, normal, detailed
    }

    public struct Logs: Decodable, Sendable, Equatable {
        public var level: LogLevel = .info
        public var encoding: LogEncoding = .console

        public init() {}

        enum Keys: String, CodingKey {
            case level, encoding, sampling, output_paths, error_output_paths, development, disable_caller,
                 disable_stacktrace, initial_fields, processors
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            // zap reads level names case-insensitively; an empty value (an unset variable) means the default.
            let levelText = try c.value(.level, or: "").lowercased()
            if !levelText.isEmpty {
                guard let l = LogLevel(rawValue: levelText) else {
                    throw decoder.invalid("level", "expected one of debug, info, warn, error, got \"\(levelText)\"")
                }
                level = l
            }
            let encodingText = try c.value(.encoding, or: "").lowercased()
            if !encodingText.isEmpty {
                guard let e = LogEncoding(rawValue: encodingText) else {
                    throw decoder.invalid("encoding", "expected console or json, got \"\(encodingText)\"")
                }
                encoding = e
            }
            // Accepted for compatibility; logs always go to stderr.
            for k in [Keys.sampling, .development, .disable_caller, .disable_stacktrace, .initial_fields, .error_output_paths, .processors] {
                _ = c.contains(k)
            }
            if let paths = try c.decodeIfPresent([String].self, forKey: .output_paths), paths != ["stderr"] {
                decoder.warn("output_paths \(paths) is ignored: tracepipe logs to stderr")
            }
        }
    }

    public struct Metrics: Decodable, Sendable, Equatable {
        public var level: MetricsLevel = .normal
        /// Where the Prometheus `/metrics` endpoint listens; nil when metrics are off.
        public var address: Endpoint? = Endpoint(host: "localhost", port: 8888)

        public init() {}

        enum Keys: String, CodingKey { case level, address, readers }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            let levelText = try c.value(.level, or: "").lowercased()
            if !levelText.isEmpty {
                guard let l = MetricsLevel(rawValue: levelText) else {
                    throw decoder.invalid("level", "expected one of none, basic, normal, detailed, got \"\(levelText)\"")
                }
                level = l
            }
            if let a = try c.decodeIfPresent(Endpoint.self, forKey: .address) {
                address = a
            }
            if c.contains(.readers) {
                let readers = try c.decode([MetricReader].self, forKey: .readers)
                address = readers.compactMap(\.endpoint).first
            }
            if level == .none { address = nil }
        }
    }

    /// One entry of `metrics.readers`. Only a Prometheus pull reader is supported.
    struct MetricReader: Decodable {
        var endpoint: Endpoint?

        enum Keys: String, CodingKey { case pull, periodic }
        enum PullKeys: String, CodingKey { case exporter }
        enum ExporterKeys: String, CodingKey { case prometheus }
        enum PrometheusKeys: String, CodingKey {
            case host, port, without_scope_info, without_units, without_type_suffix, with_resource_constant_labels
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            if c.contains(.periodic) {
                decoder.reportUnsupported("periodic", "push (periodic) metric readers are not supported; use a pull prometheus reader")
            }
            guard c.contains(.pull) else { return }
            let pull = try c.nestedContainer(keyedBy: PullKeys.self, forKey: .pull)
            let exporter = try pull.nestedContainer(keyedBy: ExporterKeys.self, forKey: .exporter)
            guard exporter.contains(.prometheus) else { return }
            let p = try exporter.nestedContainer(keyedBy: PrometheusKeys.self, forKey: .prometheus)
            let host = try p.value(.host, or: "localhost")
            let port = try p.value(.port, or: 8888)
            for k in [PrometheusKeys.without_scope_info, .without_units, .without_type_suffix, .with_resource_constant_labels] {
                _ = p.contains(k)
            }
            endpoint = Endpoint(host: host, port: port)
        }
    }

    public var logs = Logs()
    public var metrics = Metrics()

    public init() {}

    enum Keys: String, CodingKey { case logs, metrics, traces, resource }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        logs = try c.value(.logs, or: Logs())
        metrics = try c.value(.metrics, or: Metrics())
        if c.contains(.traces) { decoder.warn("traces (the collector's own traces) are ignored by tracepipe") }
        _ = c.contains(.resource)
    }
}

/// Any config subtree taken as it is (for sections whose inner keys tracepipe does not check).
extension ConfigNode: Decodable {
    public init(from decoder: any Decoder) throws {
        guard let d = decoder as? ConfigNodeDecoder else {
            throw decoder.invalid("raw config values can only be read from a config file")
        }
        self = d.node
    }
}
