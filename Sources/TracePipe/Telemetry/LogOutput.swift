import Foundation
import Logging
import NIOConcurrencyHelpers
import TraceModel

/// Where tracepipe's own log lines go: stderr, one whole line per write so that concurrent
/// components never interleave inside a line.
public final class LogOutput: Sendable {
    public static let shared = LogOutput()
    private let lock = NIOLock()

    public func write(_ line: String) {
        var text = line
        if !text.hasSuffix("\n") { text += "\n" }
        lock.withLock {
            _ = Array(text.utf8).withUnsafeBytes { FileIO.writeAll(2, $0) }
        }
    }

    /// `2026-11-22T10:00:00.123Z`, as zap's console encoder prints it.
    public static func timestamp(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        let ms = Int((date.timeIntervalSince1970 - floor(date.timeIntervalSince1970)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms)
    }
}

/// Log level and encoding from `service.telemetry.logs`, read by every logger created after it is set.
public enum LogSettings {
    private static let state = NIOLockedValueBox((level: Logger.Level.info, json: false))

    public static var level: Logger.Level { state.withLockedValue { $0.level } }
    public static var json: Bool { state.withLockedValue { $0.json } }

    public static func apply(_ logs: TelemetryConfig.Logs) {
        let level: Logger.Level
        switch logs.level {
        case .debug: level = .debug
        case .info: level = .info
        case .warn: level = .warning
        case .error, .dpanic, .panic, .fatal: level = .error
        }
        state.withLockedValue { $0 = (level, logs.encoding == .json) }
    }

    /// Installs the stderr handler as swift-log's backend. Call once, first thing in main.
    public static func bootstrap() {
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label) }
    }
}

/// A swift-log handler printing zap-like lines: `time<TAB>level<TAB>message<TAB>{fields}` or one
/// JSON object per line with `encoding: json`.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let json: Bool

    public init(label: String) {
        self.label = label
        self.logLevel = LogSettings.level
        self.json = LogSettings.json
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        LogOutput.shared.write(Self.format(level: event.level, message: "\(event.message)", fields: fields, json: json))
    }

    static func levelName(_ l: Logger.Level) -> String {
        switch l {
        case .trace, .debug: return "debug"
        case .info, .notice: return "info"
        case .warning: return "warn"
        case .error: return "error"
        case .critical: return "fatal"
        }
    }

    static func format(level: Logger.Level, message: String, fields: Logger.Metadata, json: Bool) -> String {
        let keys = fields.keys.sorted()
        if json {
            var out = [UInt8]()
            out.append(contentsOf: "{\"level\":\"\(levelName(level))\",\"ts\":\"\(LogOutput.timestamp())\",\"msg\":".utf8)
            JSONText.appendString(message, to: &out)
            for k in keys {
                out.append(UInt8(ascii: ","))
                JSONText.appendString(k, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONText.appendString("\(fields[k]!)", to: &out)
            }
            out.append(UInt8(ascii: "}"))
            return String(decoding: out, as: UTF8.self)
        }
        var line = "\(LogOutput.timestamp())\t\(levelName(level))\t\(message)"
        if !keys.isEmpty {
            var out = [UInt8]()
            out.append(UInt8(ascii: "{"))
            for (i, k) in keys.enumerated() {
                if i > 0 { out.append(contentsOf: ", ".utf8) }
                JSONText.appendString(k, to: &out)
                out.append(contentsOf: ": ".utf8)
                JSONText.appendString("\(fields[k]!)", to: &out)
            }
            out.append(UInt8(ascii: "}"))
            line += "\t" + String(decoding: out, as: UTF8.self)
        }
        return line
    }
}
