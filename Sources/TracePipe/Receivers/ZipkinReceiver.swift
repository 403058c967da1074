import Foundation
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
    let next: any TraceConsumer
    let context: ComponentContext
    private let server = ServerBox()

    public init(config: ZipkinReceiverConfig, context: ComponentContext, next: any TraceConsumer) {
        self.config = config
        self.context = context
        self.next = next
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
        let v1 = request.path.contains("api/v1/spans")
        let contentType = OTLPHTTPReceiver.mediaType(request) ?? ""
        if contentType == "application/x-protobuf" || contentType == "application/x-thrift" {
            return Self.text(.unsupportedMediaType, "\(contentType) bodies are not supported yet; send Zipkin JSON")
        }
        var body = request.body
        switch request.headers.first(name: "Content-Encoding") ?? "" {
        case "", "identity":
            break
        case let e where e == "gzip" || e == "deflate" || e == "zlib":
            do {
                let inflated = try body.withUnsafeReadableBytes { raw in
                    try Inflater.decompress(raw, format: e == "gzip" ? .gzip : .zlib, limit: config.maxRequestBodySize)
                }
                body = ByteBuffer(bytes: inflated)
            } catch Inflater.Failure.tooLarge {
                return Self.text(.badRequest, "http: request body too large")
            } catch {
                return Self.text(.badRequest, "\(error)")
            }
        case let other:
            return Self.text(.badRequest, "unsupported Content-Encoding: \(other)")
        }
        let data: TraceData
        do {
            let spans = try body.withUnsafeReadableBytes { raw in
                try v1 ? ZipkinV1JSONDecoder.decode(raw) : ZipkinV2JSONDecoder.decode(raw)
            }
            data = ZipkinTranslator.translate(spans, parseStringTags: config.parseStringTags)
        } catch {
            return Self.text(.badRequest, "\(error)")
        }
        let spans = data.spanCount
        let counters = TelemetryRegistry.shared.receiver(context.id, transport: v1 ? "http_v1_json" : "http_v2_json")
        if spans > 0 {
            do {
                try await next.consume(consume data, metadata: OTLPHTTPReceiver.metadata(request, settings: config.server))
                counters.acceptedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
            } catch let e as PipelineError {
                counters.refusedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
                switch e {
                case .refused(let m, let retryAfter):
                    var r = Self.text(.serviceUnavailable, m)
                    r.headers.add(name: "Retry-After", value: String(max(1, Int((retryAfter ?? .seconds(1)).components.seconds))))
                    return r
                case .invalidData(let m): return Self.text(.badRequest, m)
                case .permanent(let m): return Self.text(.internalServerError, m)
                }
            } catch {
                counters.refusedSpans.wrappingIncrement(by: spans, ordering: .relaxed)
                return Self.text(.internalServerError, "\(error)")
            }
        }
        return HTTPResponse(status: .accepted)
    }
}
