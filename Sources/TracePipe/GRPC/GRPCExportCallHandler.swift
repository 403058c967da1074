import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import TraceModel

/// How a call ends: an OK answer, or a gRPC status with its message and optional details
/// (a serialized `google.rpc.Status`).
enum GRPCAnswer: Sendable {
    case ok(ExportTraceResponse)
    case status(GRPCStatusCode, message: String, details: [UInt8]?)

    /// RESOURCE_EXHAUSTED with the collector's (grpc-go's) text for a message over the limit.
    static func tooLarge(_ size: Int, limit: Int) -> GRPCAnswer {
        .status(.resourceExhausted, message: "grpc: received message larger than max (\(size) vs. \(limit))", details: nil)
    }
}

/// What the server asks of its owner for each well-formed call.
protocol GRPCExportService: Sendable {
    /// The largest decompressed request message.
    var maxMessageBytes: Int { get }
    /// Whether to pass request metadata to `export`.
    var includeMetadata: Bool { get }
    func export(_ request: DecodedTraceRequest, metadata: [String: [String]]) async -> GRPCAnswer
}

/// One `TraceService/Export` call on one HTTP/2 stream: checks the request headers, collects the
/// message (refusing one over the limit as soon as it is), then decodes it and runs the pipeline
/// in a task, off the event loop, and writes the answer (headers, message, trailers; or a
/// Trailers-Only status).
final class GRPCExportCallHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    static let path = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    private let service: any GRPCExportService
    private var requestHeaders: HPACKHeaders?
    private var body = ByteBuffer()
    /// Set once an answer is decided: what still arrives is ignored.
    private var answered = false

    init(service: any GRPCExportService) {
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .headers(let h):
            if requestHeaders == nil {
                requestHeaders = h.headers
                if let problem = Self.check(h.headers) {
                    return answer(context, problem)
                }
            }
            if h.endStream { finish(context) }
        case .data(let d):
            if case .byteBuffer(var b) = d.data { body.writeBuffer(&b) }
            // Refuse an oversized message as soon as its length prefix says so, before buffering it.
            let declared = body.getInteger(at: body.readerIndex + 1, as: UInt32.self).map(Int.init) ?? 0
            if declared > service.maxMessageBytes || body.readableBytes > service.maxMessageBytes + 5 {
                let size = max(declared, body.readableBytes - 5)
                return answer(context, .tooLarge(size, limit: service.maxMessageBytes))
            }
            if d.endStream { finish(context) }
        default:
            break
        }
    }

    /// The request headers' problem as a status, nil when they are a unary gRPC call to Export.
    static func check(_ h: HPACKHeaders) -> GRPCAnswer? {
        guard h.first(name: ":method") == "POST" else {
            return .status(.unimplemented, message: "method \(h.first(name: ":method") ?? "-") is not supported (POST)", details: nil)
        }
        guard h.first(name: ":path") == path else {
            return .status(.unimplemented, message: "unknown method \(h.first(name: ":path") ?? "-"): only \(path) is served", details: nil)
        }
        guard (h.first(name: "content-type") ?? "").hasPrefix("application/grpc") else {
            return .status(.invalidArgument, message: "content-type must be application/grpc", details: nil)
        }
        let encoding = h.first(name: "grpc-encoding") ?? "identity"
        guard ["identity", "gzip", "deflate"].contains(encoding) else {
            return .status(.unimplemented, message: "grpc-encoding \"\(encoding)\" is not supported (gzip, deflate, identity)", details: nil)
        }
        return nil
    }

    /// The request is complete: decode and run it in a task, answer when it is done.
    private func finish(_ context: ChannelHandlerContext) {
        answered = true
        let message = body
        body = ByteBuffer()
        let encoding = requestHeaders?.first(name: "grpc-encoding") ?? "identity"
        let metadata = service.includeMetadata ? Self.metadata(requestHeaders ?? [:]) : [:]
        Self.run(message, encoding: encoding, metadata: metadata, service: service, channel: context.channel)
    }

    private static func run(_ message: ByteBuffer, encoding: String, metadata: [String: [String]], service: any GRPCExportService, channel: any Channel) {
        Task {
            let request = decode(message, encoding: encoding, limit: service.maxMessageBytes)
            write(await service.export(request, metadata: metadata), on: channel)
        }
    }

    private func answer(_ context: ChannelHandlerContext, _ a: GRPCAnswer) {
        answered = true
        body = ByteBuffer()
        Self.write(a, on: context.channel)
    }

    /// The one length-prefixed message of a unary call, inflated if flagged, then decoded.
    static func decode(_ buffer: ByteBuffer, encoding: String, limit: Int) -> DecodedTraceRequest {
        var b = buffer
        guard let flag: UInt8 = b.readInteger(), let length: UInt32 = b.readInteger() else {
            return .invalid("the request has no message")
        }
        guard b.readableBytes == Int(length) else {
            return .invalid("the request must hold exactly one message of \(length) bytes, got \(b.readableBytes)")
        }
        func decoded(_ raw: UnsafeRawBufferPointer) -> DecodedTraceRequest {
            do { return .data(try OTLPProtobufDecoder.decode(raw)) } catch { return .invalid("\(error)") }
        }
        if flag == 0 { return b.withUnsafeReadableBytes(decoded) }
        guard encoding == "gzip" || encoding == "deflate" else {
            return .invalid("a compressed message needs grpc-encoding gzip or deflate")
        }
        do {
            let inflated = try b.withUnsafeReadableBytes { try Inflater.decompress($0, format: encoding == "gzip" ? .gzip : .zlib, limit: limit) }
            return inflated.withUnsafeBytes(decoded)
        } catch Inflater.Failure.tooLarge {
            return .tooLarge(limit + 1, limit: limit)
        } catch {
            return .invalid("cannot decompress the message: \(error)")
        }
    }

    /// Request metadata by name (`include_metadata`): everything but pseudo-headers and gRPC's own.
    static func metadata(_ h: HPACKHeaders) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (name, value, _) in h where !name.hasPrefix(":") && !name.hasPrefix("grpc-") && name != "te" && name != "content-type" {
            out[name.lowercased(), default: []].append(value)
        }
        return out
    }

    /// Writes an answer from any thread; the stream closes once it is sent.
    static func write(_ a: GRPCAnswer, on channel: any Channel) {
        var head = HPACKHeaders()
        head.add(name: ":status", value: "200")
        head.add(name: "content-type", value: "application/grpc")
        switch a {
        case .ok(let response):
            let bytes = response.protobuf()
            var message = channel.allocator.buffer(capacity: 5 + bytes.count)
            message.writeInteger(UInt8(0))
            message.writeInteger(UInt32(bytes.count))
            message.writeBytes(bytes)
            var trailers = HPACKHeaders()
            trailers.add(name: "grpc-status", value: "0")
            channel.write(HTTP2Frame.FramePayload.headers(.init(headers: head)), promise: nil)
            channel.write(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(message))), promise: nil)
            channel.writeAndFlush(HTTP2Frame.FramePayload.headers(.init(headers: trailers, endStream: true)), promise: nil)
        case .status(let code, let message, let details):
            // Trailers-Only: one HEADERS frame with the status ends the call.
            head.add(name: "grpc-status", value: "\(code.rawValue)")
            if !message.isEmpty { head.add(name: "grpc-message", value: percentEncoded(message)) }
            if let details { head.add(name: "grpc-status-details-bin", value: Data(details).base64EncodedString().replacingOccurrences(of: "=", with: "")) }
            channel.writeAndFlush(HTTP2Frame.FramePayload.headers(.init(headers: head, endStream: true)), promise: nil)
        }
    }

    /// gRPC's percent-encoding of `grpc-message`: printable ASCII but `%` stays as is.
    static func percentEncoded(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if b >= 0x20 && b <= 0x7E && b != 0x25 {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }
}
