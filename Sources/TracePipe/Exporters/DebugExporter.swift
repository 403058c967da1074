import FoundationEssentials
import NIOConcurrencyHelpers
import TraceModel

/// `exporters.debug` (old name `logging`): prints what passes to stderr, as the collector's
/// debug exporter does — a count line (basic), one line per span (normal) or every field (detailed).
public struct DebugExporterConfig: Decodable, Sendable {
    public enum Verbosity: String, ConfigEnum { case basic, normal, detailed }

    public var verbosity = Verbosity.basic
    public var samplingInitial = 2
    public var samplingThereafter = 1

    public init() {}

    enum Keys: String, CodingKey {
        case verbosity, sampling_initial, sampling_thereafter, use_internal_logger, output_paths
        case sending_queue, retry_on_failure, timeout
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        if let v = try c.decodeIfPresent(String.self, forKey: .verbosity) {
            guard let parsed = Verbosity(rawValue: v.lowercased()) else {
                throw decoder.invalid("verbosity", "verbosity level \"\(v)\" is not supported (expected basic, normal or detailed)")
            }
            verbosity = parsed
        }
        samplingInitial = try c.value(.sampling_initial, or: 2)
        samplingThereafter = try c.value(.sampling_thereafter, or: 1)
        guard samplingInitial >= 0 else { throw decoder.invalid("sampling_initial", "must not be negative") }
        guard samplingThereafter >= 0 else { throw decoder.invalid("sampling_thereafter", "must not be negative") }
        let internalLogger = try c.value(.use_internal_logger, or: true)
        if let paths = try c.decodeIfPresent([String].self, forKey: .output_paths) {
            if internalLogger { throw decoder.invalid("output_paths", "output_paths is not supported when use_internal_logger is true") }
            if paths.isEmpty { throw decoder.invalid("output_paths", "output_paths must not be empty when use_internal_logger is false") }
            if paths != ["stdout"] && paths != ["stderr"] {
                decoder.reportUnsupported("output_paths", "only stdout or stderr are supported")
            }
        }
        for k in [Keys.sending_queue, .retry_on_failure, .timeout] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "not supported yet on the debug exporter")
        }
    }
}

public final class DebugExporter: Exporter {
    let config: DebugExporterConfig
    let context: ComponentContext
    private let sampler: LogSampler
    private let counters: ExporterCounters

    public init(config: DebugExporterConfig, context: ComponentContext) {
        self.config = config
        self.context = context
        self.sampler = LogSampler(initial: config.samplingInitial, thereafter: config.samplingThereafter)
        self.counters = context.telemetry.exporter(context.id)
    }

    public func consume(_ data: consuming TraceData) async throws {
        counters.recordSent(data.spanCount)
        guard sampler.allow() else { return }
        let fields = "\"otelcol.component.id\": \"\(context.id)\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"traces\""
        LogOutput.shared.write("\(LogOutput.timestamp())\tinfo\tTraces\t{\(fields), \"resource spans\": \(data.resourceSpans.count), \"spans\": \(data.spanCount)}")
        switch config.verbosity {
        case .basic:
            return
        case .normal:
            LogOutput.shared.write("\(LogOutput.timestamp())\tinfo\t\(TraceTextFormat.normal(data))\t{\(fields)}")
        case .detailed:
            LogOutput.shared.write("\(LogOutput.timestamp())\tinfo\t\(TraceTextFormat.detailed(data))\t{\(fields)}")
        }
    }
}

/// zap-style sampling: in each one-second tick the first `initial` messages pass, then every
/// `thereafter`-th (0 drops the rest).
final class LogSampler: Sendable {
    private let initial: Int
    private let thereafter: Int
    private let state = NIOLockedValueBox((tick: Int64(0), count: 0))

    init(initial: Int, thereafter: Int) {
        self.initial = initial
        self.thereafter = thereafter
    }

    func allow(now: Date = Date()) -> Bool {
        let tick = Int64(now.timeIntervalSince1970)
        return state.withLockedValue { s in
            if s.tick != tick { s = (tick, 0) }
            s.count += 1
            if s.count <= initial { return true }
            return thereafter > 0 && (s.count - initial) % thereafter == 0
        }
    }
}
