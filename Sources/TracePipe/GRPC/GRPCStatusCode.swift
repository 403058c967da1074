import TraceModel

/// A request as the gRPC receiver sees it: decoded, or why it could not be.
public enum DecodedTraceRequest: Sendable {
    case data(TraceData)
    case invalid(String)
    /// Larger than `max_recv_msg_size_mib` (size, limit).
    case tooLarge(Int, limit: Int)
}

/// gRPC's status codes, named as in the gRPC spec (and in logs).
public enum GRPCStatusCode: Int, Sendable, CustomStringConvertible {
    case ok = 0, cancelled, unknown, invalidArgument, deadlineExceeded, notFound, alreadyExists, permissionDenied
    case resourceExhausted, failedPrecondition, aborted, outOfRange, unimplemented, `internal`, unavailable, dataLoss
    case unauthenticated

    public var description: String {
        switch self {
        case .ok: return "OK"
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internal: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        }
    }
}

/// The end of one unary gRPC call: the status (from the trailers, or a Trailers-Only answer) and
/// the response message when there was one.
public struct GRPCCallResult: Sendable {
    public var status: Int
    public var message: String
    /// `grpc-status-details-bin`: a serialized `google.rpc.Status`.
    public var details: [UInt8]?
    public var response: [UInt8]?

    public init(status: Int, message: String, details: [UInt8]? = nil, response: [UInt8]? = nil) {
        self.status = status
        self.message = message
        self.details = details
        self.response = response
    }

    public var code: GRPCStatusCode { GRPCStatusCode(rawValue: status) ?? .unknown }

    /// The `google.rpc.RetryInfo` delay in the status details, if the server sent one.
    public var retryDelay: Duration? {
        details.flatMap { d in d.withUnsafeBytes { RPCStatus.decodeProtobuf($0) } }?.retryDelay
    }
}
