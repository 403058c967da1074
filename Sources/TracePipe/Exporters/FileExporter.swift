import FoundationEssentials
import TraceModel

/// `exporters.file`: each export call becomes one OTLP/JSON line (`{"resourceSpans":[…]}\n`),
/// readable by the collector's OTLP JSON file readers. Lines are written whole, buffered up to
/// `flush_interval`, flushed on shutdown, and the file rotates by size like the collector's.
public final class FileExporter: Exporter {
    let config: FileExporterConfig
    let context: ComponentContext
    let sink: FileSink
    private let flusher = TaskBox()
    private let counters: ExporterCounters

    public init(config: FileExporterConfig, context: ComponentContext) {
        self.config = config
        self.context = context
        self.counters = context.telemetry.exporter(context.id)
        self.sink = FileSink(path: config.path, append: config.append, rotation: config.rotation)
    }

    public func start(_ host: ComponentHost) async throws {
        try await sink.open()
        let sink = self.sink
        let interval = config.flushInterval.duration
        let logger = context.logger
        flusher.set(Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                do { try await sink.flush() } catch { logger.error("file exporter cannot write", metadata: ["error": "\(error)"]) }
            }
        })
        context.logger.info("file exporter writing", metadata: ["path": "\(config.path)"])
    }

    public func shutdown() async {
        flusher.cancel()
        do {
            try await sink.close()
        } catch {
            context.logger.error("file exporter could not flush on shutdown", metadata: ["error": "\(error)"])
        }
    }

    public func consume(_ data: consuming TraceData) async throws {
        // Encode outside the sink's actor so several requests encode in parallel.
        var line = [UInt8]()
        line.reserveCapacity(4096)
        OTLPJSONEncoder.encode(data, appendingTo: &line)
        line.append(0x0A)
        do {
            try await sink.write(line)
            counters.recordSent(data.spanCount)
        } catch {
            counters.recordEnqueueFailed(data.spanCount)
            throw PipelineError.refused("file exporter cannot write \(config.path): \(error)", retryAfter: .seconds(1))
        }
    }
}

