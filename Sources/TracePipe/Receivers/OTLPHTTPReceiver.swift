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
    private let server = ServerBox()

    public init(config: OTLPReceiverConfig.HTTP, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.context = context
        self.next = next
    }

    public func start(_ host: ComponentHost) async throws {
        let options = HTTPServer.Options(maxBodySize: config.maxRequestBodySize) { request in
            OTLPHTTPReceiver.statusResponse(.badRequest, code: 3, message: "http: request body too large", request: request)
        }
        let s = try await HTTPServer.start(
            host: config.endpoint.host, port: config.endpoint.port, group: context.eventLoopGroup, options: options
        ) { [self] request in await self.handle(request) }
        server.set(s)
        context.logger.info("OTLP/HTTP receiver listening", metadata: ["endpoint": "\(config.endpoint.host):\(s.port)", "path": "\(config.tracesURLPath)"])
    }

    public func shutdown() async {
        await server.take()?.shutdown()
    }

    enum Encoding {
        case json
        case protobuf
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard request.path == config.tracesURLPath else {
            var r = HTTPResponse.text(.notFound, "404 page not found\n", contentType: "text/plain; charset=utf-8")
            r.headers.add(name: "X-Content-Type-Options", value: "nosniff")
            return r
        }
        let encoding = request.headers.first(name: "Content-Encoding") ?? ""
        if !encoding.isEmpty && encoding != "identity" {
            return Self.statusResponse(.badRequest, code: 3, message: "unsupported Content-Encoding: \(encoding)", request: request)
        }
        guard request.method == .POST else {
            return .text(.methodNotAllowed, "405 method not allowed, supported: [POST]")
        }
        guard Self.mediaType(request) == "application/json" else {
            return .text(.unsupportedMediaType, "415 unsupported media type, supported: [application/json]")
        }
        let data: TraceData
        do {
            data = try request.body.withUnsafeReadableBytes { raw in
                try OTLPJSONDecoder.decode(raw)
            }
        } catch {
            return Self.statusResponse(.badRequest, code: 3, message: "\(error)", request: request)
        }
        let spans = data.spanCount
        if spans > 0 {
            do {
                try await next.consume(data)
            } catch let e as PipelineError {
                return Self.refusal(e, spans: spans, request: request, logger: context.logger)
            } catch {
                context.logger.warning("pipeline failed", metadata: ["error": "\(error)", "spans": "\(spans)"])
                return Self.statusResponse(.internalServerError, code: 13, message: "\(error)", request: request)
            }
        }
        var ok = HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"])
        ok.body = ByteBuffer(string: "{\"partialSuccess\":{}}")
        return ok
    }

    static func refusal(_ e: PipelineError, spans: Int, request: HTTPRequest, logger: Logger) -> HTTPResponse {
        switch e {
        case .refused(let message, let retryAfter):
            var r = statusResponse(.serviceUnavailable, code: 14, message: message, request: request)
            let seconds = max(1, Int(((retryAfter ?? .seconds(1)).components.seconds)))
            r.headers.add(name: "Retry-After", value: String(seconds))
            return r
        case .invalidData(let message):
            return statusResponse(.badRequest, code: 3, message: message, request: request)
        case .permanent(let message):
            logger.warning("pipeline refused data permanently", metadata: ["error": "\(message)", "spans": "\(spans)"])
            return statusResponse(.internalServerError, code: 13, message: message, request: request)
        }
    }

    /// The media type without parameters, lower-cased.
    static func mediaType(_ request: HTTPRequest) -> String? {
        guard let ct = request.headers.first(name: "Content-Type") else { return nil }
        return ct.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    /// A `google.rpc.Status` body in JSON (the request's encoding; JSON when it has none).
    static func statusResponse(_ status: HTTPResponseStatus, code: Int, message: String, request: HTTPRequest) -> HTTPResponse {
        var w = [UInt8]()
        w.append(contentsOf: "{\"code\":\(code),\"message\":".utf8)
        appendJSONString(message, to: &w)
        w.append(UInt8(ascii: "}"))
        var buffer = ByteBuffer()
        buffer.writeBytes(w)
        return HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: buffer)
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
