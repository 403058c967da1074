import Logging
import NIOConcurrencyHelpers
import NIOCore
import TraceModel

/// `receivers.otlp.protocols.grpc`: `TraceService/Export` with the same pipeline semantics as the
/// HTTP side — success is an empty `ExportTraceServiceResponse`; malformed data is
/// INVALID_ARGUMENT; a refusing pipeline (queue full, memory limit) is UNAVAILABLE with a
/// `RetryInfo` so OTLP clients back off and retry; nothing is answered OK that was not taken.
public final class OTLPGRPCReceiver: Receiver, GRPCExportService {
    let config: GRPCServerSettings
    let context: ComponentContext
    let pipeline: ReceiverPipeline
    private let server = NIOLockedValueBox<GRPCExportServer?>(nil)

    var maxMessageBytes: Int { config.maxReceiveMessageBytes }
    var includeMetadata: Bool { config.includeMetadata }

    public init(config: GRPCServerSettings, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.context = context
        pipeline = ReceiverPipeline(context, transport: "grpc", next: next)
    }

    public func start(_ host: ComponentHost) async throws {
        let tls = try config.tls?.makeContext(applicationProtocols: ["h2"])
        let s: GRPCExportServer
        do {
            s = try await GRPCExportServer.start(
                host: config.endpoint.host, port: config.endpoint.port, group: context.eventLoopGroup, tls: tls,
                settings: config, service: self)
        } catch {
            throw StartError(message: "cannot listen on \(config.endpoint.host):\(config.endpoint.port) for OTLP/gRPC: \(error)")
        }
        server.withLockedValue { $0 = s }
        context.logger.info("OTLP/gRPC receiver listening", metadata: [
            "endpoint": "\(config.endpoint.host):\(s.port)", "tls": "\(tls != nil)",
        ])
    }

    public func shutdown() async {
        await server.withLockedValue { s in defer { s = nil }; return s }?.shutdown()
    }

    /// One Export call: decode result → pipeline → answer.
    func export(_ request: DecodedTraceRequest, metadata: [String: [String]]) async -> GRPCAnswer {
        let data: TraceData
        switch request {
        case .data(let d): data = d
        case .invalid(let message): return .status(.invalidArgument, message: message, details: nil)
        case .tooLarge(let size, let limit):
            return .tooLarge(size, limit: limit)
        }
        return Self.answer(for: await pipeline.deliver(data, metadata: metadata))
    }

    /// The collector's mapping: not permanent → UNAVAILABLE (retry, with a RetryInfo), permanent → INTERNAL.
    static func answer(for outcome: DeliveryOutcome) -> GRPCAnswer {
        func unavailable(_ message: String, _ delay: Duration) -> GRPCAnswer {
            .status(.unavailable, message: message, details: RPCStatus(code: Int32(GRPCStatusCode.unavailable.rawValue), message: message, retryDelay: delay).protobuf())
        }
        switch outcome {
        case .accepted: return .ok(ExportTraceResponse(partialSuccess: .init()))
        case .refused(let message, let retryAfter): return unavailable(message, retryAfter)
        case .invalidData(let message): return .status(.invalidArgument, message: message, details: nil)
        case .permanent(let message): return .status(.internal, message: message, details: nil)
        case .failed(let message): return unavailable(message, .seconds(1))
        }
    }
}
