import FoundationEssentials
import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOHTTP1
import TraceModel

/// `receivers.otlp` over HTTP: `POST <traces_url_path>` with an OTLP/JSON body → pipeline →
/// the collector's answers (200 with `{"partialSuccess":{}}`, 400 with a Status body saying what
/// was wrong, 405, 415, 503 with Retry-After when the pipeline refuses).
public final class OTLPHTTPReceiver: Receiver {
    let config: OTLPReceiverConfig.HTTP
    let context: ComponentContext
    let pipeline: ReceiverPipeline
    private let server = ServerBox()

    public init(config: OTLPReceiverConfig.HTTP, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.context = context
        pipeline = ReceiverPipeline(context, transport: "http", next: next)
    }

    public func start(_ host: ComponentHost) async throws {
        let options = HTTPServer.Options(config.server) { request in
            OTLPHTTPReceiver.statusResponse(.badRequest, code: 3, message: "http: request body too large", request: request)
        }
        let tls = try config.server.tls?.makeContext()
        let s = try await HTTPServer.start(
            host: config.endpoint.host, port: config.endpoint.port, group: context.eventLoopGroup, options: options, tls: tls,
            handler: ServerPolicies.wrap(config.server) { [self] request in await self.handle(request) }
        )
        server.set(s)
        context.logger.info("OTLP/HTTP receiver listening", metadata: [
            "endpoint": "\(config.endpoint.host):\(s.port)", "path": "\(config.tracesURLPath)", "tls": "\(tls != nil)",
        ])
    }

    public func shutdown() async {
        await server.take()?.shutdown()
    }

    enum Encoding {
        case json
        case protobuf
    }

    /// The encoding of a request by its media type (parameters ignored), nil when neither.
    static func encoding(_ request: HTTPRequest) -> Encoding? {
        switch mediaType(request) {
        case "application/json": return .json
        case "application/x-protobuf": return .protobuf
        default: return nil
        }
    }

    /// Handles one request in the collector's order: path, content encoding, method, media
    /// type, size, decode, pipeline.
    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard request.path == config.tracesURLPath else {
            var r = HTTPResponse.text(.notFound, "404 page not found\n", contentType: "text/plain; charset=utf-8")
            r.headers.add(name: "X-Content-Type-Options", value: "nosniff")
            return r
        }
        let encoding = Self.encoding(request)
        let body: ByteBuffer
        switch BodyDecompression.decode(request.body, contentEncoding: request.headers.first(name: "Content-Encoding") ?? "",
                                        limit: config.maxRequestBodySize) {
        case .success(let b): body = b
        case .failure(.tooLarge): return Self.errorResponse(.badRequest, code: 3, message: "http: request body too large", encoding: encoding)
        case .failure(.invalid(let message)): return Self.errorResponse(.badRequest, code: 3, message: message, encoding: encoding)
        case .failure(.unsupported(let name)):
            return Self.errorResponse(.badRequest, code: 3, message: "unsupported Content-Encoding: \(name)", encoding: encoding)
        }
        guard request.method == .POST else {
            return .text(.methodNotAllowed, "405 method not allowed, supported: [POST]")
        }
        guard let encoding else {
            return .text(.unsupportedMediaType, "415 unsupported media type, supported: [application/json, application/x-protobuf]")
        }
        let data: TraceData
        do {
            data = try body.withUnsafeReadableBytes { raw throws -> TraceData in
                switch encoding {
                case .json: return try OTLPJSONDecoder.decode(raw)
                case .protobuf: return try OTLPProtobufDecoder.decode(raw)
                }
            }
        } catch {
            return Self.errorResponse(.badRequest, code: 3, message: "\(error)", encoding: encoding)
        }
        switch await pipeline.deliver(data, metadata: Self.metadata(request, settings: config.server)) {
        case .accepted: break
        case .refused(let message, let retryAfter):
            var r = Self.errorResponse(.serviceUnavailable, code: 14, message: message, encoding: encoding)
            r.headers.add(name: "Retry-After", value: ReceiverPipeline.retryAfterSeconds(retryAfter))
            return r
        case .invalidData(let message): return Self.errorResponse(.badRequest, code: 3, message: message, encoding: encoding)
        case .permanent(let message), .failed(let message):
            return Self.errorResponse(.internalServerError, code: 13, message: message, encoding: encoding)
        }
        // The collector always sets an (empty) partial_success in its answer.
        let answer = ExportTraceResponse(partialSuccess: .init())
        switch encoding {
        case .json:
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: ByteBuffer(bytes: answer.json()))
        case .protobuf:
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/x-protobuf"], body: ByteBuffer(bytes: answer.protobuf()))
        }
    }

    /// The request metadata handed down the pipeline: request headers by lower-cased name when
    /// `include_metadata` is on, else none. Shared by the HTTP receivers (OTLP and Zipkin).
    static func metadata(_ request: HTTPRequest, settings: HTTPServerSettings) -> [String: [String]] {
        guard settings.includeMetadata else { return [:] }
        var out: [String: [String]] = [:]
        for (name, value) in request.headers { out[name.lowercased(), default: []].append(value) }
        return out
    }

    /// The media type without parameters, lower-cased.
    static func mediaType(_ request: HTTPRequest) -> String? {
        guard let ct = request.headers.first(name: "Content-Type") else { return nil }
        return ct.split(separator: ";").first.map { $0.trimmingSpaces().lowercased() }
    }

    /// A `google.rpc.Status` body in the request's encoding (JSON when it has none or another
    /// one: the collector answers those with a fixed 500, a plain 400 says more).
    static func errorResponse(_ status: HTTPResponseStatus, code: Int32, message: String, encoding: Encoding?) -> HTTPResponse {
        let s = RPCStatus(code: code, message: message)
        if encoding == .protobuf {
            return HTTPResponse(status: status, headers: ["Content-Type": "application/x-protobuf"], body: ByteBuffer(bytes: s.protobuf()))
        }
        return HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: ByteBuffer(bytes: s.json()))
    }

    /// For the body-too-large answer of the HTTP server (which has not decoded anything yet).
    static func statusResponse(_ status: HTTPResponseStatus, code: Int32, message: String, request: HTTPRequest) -> HTTPResponse {
        errorResponse(status, code: code, message: message, encoding: encoding(request))
    }
}

/// Holds the running server between start and shutdown.
final class ServerBox: Sendable {
    private let box = NIOLockedValueBox<HTTPServer?>(nil)
    func set(_ s: HTTPServer) { box.withLockedValue { $0 = s } }
    func take() -> HTTPServer? { box.withLockedValue { s in defer { s = nil }; return s } }
    var current: HTTPServer? { box.withLockedValue { $0 } }
}
