import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1
import TraceModel

/// `receivers.zipkin`: Zipkin v2 JSON (`/api/v2/spans`) and v1 JSON (`/api/v1/spans`),
/// translated into OTLP as the collector does.
public struct ZipkinReceiverConfig: Decodable, Sendable {
    public var server = HTTPServerSettings(endpoint: Endpoint(host: "localhost", port: 9411))
    public var parseStringTags = false

    public var maxRequestBodySize: Int { server.maxRequestBodySize }

    public init() {}

    enum Keys: String, CodingKey { case parse_string_tags }

    public init(from decoder: any Decoder) throws {
        server = try HTTPServerSettings(from: decoder, defaultEndpoint: Endpoint(host: "localhost", port: 9411))
        let c = try decoder.container(keyedBy: Keys.self)
        parseStringTags = try c.value(.parse_string_tags, or: false)
    }
}

public final class ZipkinReceiver: Receiver {
    let config: ZipkinReceiverConfig
    let context: ComponentContext
    /// By the format a request came in (v1 or v2 JSON): the collector counts them as transports.
    let v1: ReceiverPipeline
    let v2: ReceiverPipeline
    private let server = ServerBox()

    public init(config: ZipkinReceiverConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.context = context
        v1 = ReceiverPipeline(context, transport: "http_v1_json", next: next)
        v2 = ReceiverPipeline(context, transport: "http_v2_json", next: next)
    }

    public func start(_ host: ComponentHost) async throws {
        let options = HTTPServer.Options(config.server) { _ in
            .text(.badRequest, "http: request body too large\n", contentType: "text/plain; charset=utf-8")
        }
        let endpoint = config.server.endpoint
        let s = try await HTTPServer.start(
            host: endpoint.host, port: endpoint.port, group: context.eventLoopGroup, options: options, tls: try config.server.tls?.makeContext(),
            handler: ServerPolicies.wrap(config.server) { [self] request in await self.handle(request) }
        )
        server.set(s)
        context.logger.info("Zipkin receiver listening", metadata: ["endpoint": "\(endpoint.host):\(s.port)"])
    }

    public func shutdown() async {
        await server.take()?.shutdown()
    }

    static func text(_ status: HTTPResponseStatus, _ message: String) -> HTTPResponse {
        .text(status, message + "\n", contentType: "text/plain; charset=utf-8")
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let isV1 = request.path.contains("api/v1/spans")
        let contentType = OTLPHTTPReceiver.mediaType(request) ?? ""
        if contentType == "application/x-protobuf" || contentType == "application/x-thrift" {
            return Self.text(.unsupportedMediaType, "\(contentType) bodies are not supported yet; send Zipkin JSON")
        }
        let body: ByteBuffer
        switch BodyDecompression.decode(request.body, contentEncoding: request.headers.first(name: "Content-Encoding") ?? "",
                                        limit: config.maxRequestBodySize, acceptsZlibName: true) {
        case .success(let b): body = b
        case .failure(.tooLarge): return Self.text(.badRequest, "http: request body too large")
        case .failure(.invalid(let message)): return Self.text(.badRequest, message)
        case .failure(.unsupported(let name)): return Self.text(.badRequest, "unsupported Content-Encoding: \(name)")
        }
        let data: TraceData
        do {
            let spans = try body.withUnsafeReadableBytes { raw in
                try isV1 ? ZipkinV1JSONDecoder.decode(raw) : ZipkinV2JSONDecoder.decode(raw)
            }
            data = ZipkinTranslator.translate(spans, parseStringTags: config.parseStringTags)
        } catch {
            return Self.text(.badRequest, "\(error)")
        }
        switch await (isV1 ? v1 : v2).deliver(data, metadata: OTLPHTTPReceiver.metadata(request, settings: config.server)) {
        case .accepted: break
        case .refused(let message, let retryAfter):
            var r = Self.text(.serviceUnavailable, message)
            r.headers.add(name: "Retry-After", value: ReceiverPipeline.retryAfterSeconds(retryAfter))
            return r
        case .invalidData(let message): return Self.text(.badRequest, message)
        case .permanent(let message), .failed(let message): return Self.text(.internalServerError, message)
        }
        return HTTPResponse(status: .accepted)
    }
}
