/// `exporters.file`: OTLP/JSON lines into a file, with size-based rotation.
public struct FileExporterConfig: Decodable, Sendable {
    public struct Rotation: Decodable, Sendable, Equatable {
        public var maxMegabytes = 100
        public var maxDays = 0
        public var maxBackups = 100
        public var localtime = false

        public init() {}

        enum Keys: String, CodingKey { case max_megabytes, max_days, max_backups, localtime }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            maxMegabytes = try c.value(.max_megabytes, or: 100)
            maxDays = try c.value(.max_days, or: 0)
            maxBackups = try c.value(.max_backups, or: 100)
            localtime = try c.value(.localtime, or: false)
            guard maxMegabytes > 0 else { throw decoder.invalid("max_megabytes", "must be greater than zero") }
            guard maxDays >= 0 else { throw decoder.invalid("max_days", "must not be negative") }
            guard maxBackups >= 0 else { throw decoder.invalid("max_backups", "must not be negative") }
        }
    }

    public enum Format: String, ConfigEnum { case json, proto }

    public var path: String
    public var format = Format.json
    public var append = false
    public var rotation: Rotation?
    public var flushInterval = ConfigDuration.seconds(1)

    public init(path: String) {
        self.path = path
    }

    enum Keys: String, CodingKey {
        case path, format, compression, append, rotation, flush_interval, group_by, encoding
        case sending_queue, retry_on_failure, timeout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        guard let p = try c.decodeIfPresent(String.self, forKey: .path) else {
            throw decoder.invalid("path", "required")
        }
        guard !p.isEmpty else { throw decoder.invalid("path", "path must be non-empty") }
        path = p
        format = try c.value(.format, or: .json)
        if format == .proto {
            decoder.reportUnsupported("format", "format \"proto\" is not supported yet; use json")
        }
        let compression = try c.value(.compression, or: "")
        if !compression.isEmpty {
            guard compression == "zstd" else { throw decoder.invalid("compression", "compression \"\(compression)\" is not supported (the collector accepts zstd)") }
            decoder.reportUnsupported("compression", "zstd compression of the file is not supported yet")
        }
        append = try c.value(.append, or: false)
        if append && !compression.isEmpty {
            throw decoder.invalid("append", "append and compression enabled at the same time is not supported")
        }
        rotation = try c.section(.rotation, default: Rotation())
        flushInterval = try c.value(.flush_interval, or: .seconds(1))
        guard flushInterval.nanoseconds > 0 else { throw decoder.invalid("flush_interval", "flush_interval must be larger than zero") }
        for k in [Keys.group_by, .encoding, .sending_queue, .retry_on_failure, .timeout] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "not supported yet on the file exporter")
        }
    }
}
