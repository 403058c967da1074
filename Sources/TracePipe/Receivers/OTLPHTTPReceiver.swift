import Foundation
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
    let next: any TraceConsumer
    let context: ComponentContext
    let counters: ReceiverCounters
    private let server = ServerBox()

    public init(config: OTLPReceiverConfig.HTTP, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.context = context
        self.next = next
        counters = TelemetryRegistry.shared.receiver(context.id, transport: "http")
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
        var body = request.body
        let contentEncoding = request.headers.first(name: "Content-Encoding") ?? ""
        switch contentEncoding {
        case "", "identity":
            break
        case "gzip", "deflate":
            let format: ZlibFormat = contentEncoding == "gzip" ? .gzip : .zlib
            do {
                let inflated = try body.withUnsafeReadableBytes { raw in
                    try Inflater.decompress(raw, format: format, limit: config.maxRequestBodySize)
                }
                body = ByteBuffer(bytes: inflated)
            } catch Inflater.Failure.tooLarge {
                return Self.errorResponse(.badRequest, code: 3, message: "http: request body too large", encoding: encoding)
            } catch {
                return Self.errorResponse(.badRequest, code: 3, message: "\(error)", encoding: encoding)
            }
        default:
            return Self.errorResponse(.badRequest, code: 3, message: "unsupported Content-Encoding: \(contentEncoding)", encoding: encoding)
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
        let spans = data.spanCount
        if spans > 0 {
            do {
                try await next.consume(consume data, metadata: Self.metadata(request, settings: config.server))
                counters.acceptedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
            } catch let e as PipelineError {
                counters.refusedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
                return Self.refusal(e, spans: spans, encoding: encoding, logger: context.logger)
            } catch {
                counters.refusedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
                context.logger.warning("pipeline failed", metadata: ["error": "\(error)", "spans": "\(spans)"])
                return Self.errorResponse(.internalServerError, code: 13, message: "\(error)", encoding: encoding)
            }
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

    static func refusal(_ e: PipelineError, spans: Int, encoding: Encoding, logger: Logger) -> HTTPResponse {
        switch e {
        case .refused(let message, let retryAfter):
            var r = errorResponse(.serviceUnavailable, code: 14, message: message, encoding: encoding)
            let seconds = max(1, Int(((retryAfter ?? .seconds(1)).components.seconds)))
            r.headers.add(name: "Retry-After", value: String(seconds))
            return r
        case .invalidData(let message):
            return errorResponse(.badRequest, code: 3, message: message, encoding: encoding)
        case .permanent(let message):
            logger.warning("pipeline refused data permanently", metadata: ["error": "\(message)", "spans": "\(spans)"])
            return errorResponse(.internalServerError, code: 13, message: message, encoding: encoding)
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

/// Appends `s` as a JSON string literal.
func appendJSONString(_ s: String, to out: inout [UInt8]) {
    out.append(0x22)
    for u in s.utf8 {
        switch u {
        case 0x22: out.append(contentsOf: [0x5C, 0x22])
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0..<0x20:
            out.append(contentsOf: Array(String(format: "\\u%04x", u).utf8))
        default: out.append(u)
        }
    }
    out.append(0x22)
}
