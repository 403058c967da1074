import GRPCCore
import TraceModel
import TracePipe

/// grpc-swift 2 speaking OTLP with tracepipe's protobuf codec (no generated code): the tests' gRPC
/// client and fake Tempo, and the benchmark's load generator, are an implementation independent
/// of tracepipe's own gRPC server and client.
public enum OTLPTraceService {
    public static let export = MethodDescriptor(
        fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService", method: "Export", type: .unary)

    /// The metadata key gRPC uses for a serialized `google.rpc.Status` with error details.
    public static let statusDetailsKey = "grpc-status-details-bin"
}

/// Server side: request bytes → `DecodedTraceRequest`.
public struct TraceRequestDeserializer: MessageDeserializer {
    /// The largest message decoded; nil: no limit.
    let limit: Int?

    public init(limit: Int? = nil) {
        self.limit = limit
    }

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> DecodedTraceRequest {
        if let limit, serializedMessageBytes.count > limit { return .tooLarge(serializedMessageBytes.count, limit: limit) }
        return serializedMessageBytes.withUnsafeBytes { raw in
            do {
                return .data(try OTLPProtobufDecoder.decode(raw))
            } catch {
                return .invalid("\(error)")
            }
        }
    }
}

/// Both directions of `ExportTraceServiceResponse`.
public struct TraceResponseCodec: MessageSerializer, MessageDeserializer {
    public init() {}

    public func serialize<Bytes: GRPCContiguousBytes>(_ message: ExportTraceResponse) throws -> Bytes {
        Bytes(message.protobuf())
    }

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> ExportTraceResponse {
        try serializedMessageBytes.withUnsafeBytes { raw in
            do {
                return try ExportTraceResponse.decodeProtobuf(raw)
            } catch {
                throw RPCError(code: .internalError, message: "the server's answer is not an ExportTraceServiceResponse: \(error)")
            }
        }
    }
}

/// Raw bytes in and out: for clients that send pre-encoded (or deliberately broken) payloads.
public struct RawBytesCodec: MessageSerializer, MessageDeserializer {
    public init() {}

    public func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }

    public func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}

extension RPCError {
    /// The `google.rpc.RetryInfo` delay in this error's status details, if the server sent one.
    public var retryInfoDelay: Duration? {
        for bytes in metadata[binaryValues: OTLPTraceService.statusDetailsKey] {
            if let status = bytes.withUnsafeBytes({ RPCStatus.decodeProtobuf($0) }), let d = status.retryDelay { return d }
        }
        return nil
    }

    /// An error whose status details carry a RetryInfo, so OTLP clients back off for `delay`.
    public static func withRetryInfo(_ code: RPCError.Code, message: String, delay: Duration) -> RPCError {
        var metadata = Metadata()
        let status = RPCStatus(code: Int32(code.rawValue), message: message, retryDelay: delay)
        metadata.addBinary(status.protobuf(), forKey: OTLPTraceService.statusDetailsKey)
        return RPCError(code: code, message: message, metadata: metadata)
    }
}
