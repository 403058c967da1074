/// `google.rpc.Status`: the body of OTLP/HTTP error answers and, as `grpc-status-details-bin`,
/// the details of gRPC errors. The only detail tracepipe writes or reads is `google.rpc.RetryInfo`,
/// which tells OTLP clients how long to back off before retrying.
public struct RPCStatus: Equatable, Sendable {
    public var code: Int32
    public var message: String
    /// `RetryInfo.retry_delay`, when the details carry one.
    public var retryDelay: Duration?

    public static let retryInfoTypeURL = "type.googleapis.com/google.rpc.RetryInfo"

    public init(code: Int32, message: String, retryDelay: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryDelay = retryDelay
    }

    /// Field order code, message, details: as Go's protobuf library writes a Status.
    public func protobuf() -> [UInt8] {
        var w = ReverseProtoWriter(capacity: 64 + message.utf8.count)
        if let delay = retryDelay {
            // Written back to front, the Duration, the RetryInfo holding it and the Any holding
            // that all end where the writer is now.
            let end = w.count
            let (seconds, attoseconds) = delay.components
            let nanos = Int32(truncatingIfNeeded: attoseconds / 1_000_000_000)
            if nanos != 0 {
                w.varint(UInt64(bitPattern: Int64(nanos)))
                w.tag(2, 0)
            }
            if seconds != 0 {
                w.varint(UInt64(bitPattern: seconds))
                w.tag(1, 0)
            }
            w.lengthDelimited(1, since: end)  // RetryInfo.retry_delay
            w.lengthDelimited(2, since: end)  // Any.value
            w.string(1, Self.retryInfoTypeURL)  // Any.type_url
            w.lengthDelimited(3, since: end)  // Status.details
        }
        if !message.isEmpty { w.string(2, message) }
        if code != 0 {
            w.varint(UInt64(bitPattern: Int64(code)))
            w.tag(1, 0)
        }
        return w.bytes()
    }

    public func json() -> [UInt8] {
        var w = JSONWriter(capacity: 32 + message.utf8.count)
        w.raw("{\"code\":")
        w.int(Int64(code))
        w.raw(",\"message\":")
        w.string(message)
        w.byte(UInt8(ascii: "}"))
        return w.out
    }

    /// Reads a protobuf Status; returns nil when the bytes are not one.
    public static func decodeProtobuf(_ bytes: UnsafeRawBufferPointer) -> RPCStatus? {
        var r = ProtoReader(bytes)
        var s = RPCStatus(code: 0, message: "")
        do {
            while !r.atEnd {
                let (f, w) = try r.tag()
                if f == 1 && w == 0 {
                    s.code = Int32(truncatingIfNeeded: try r.varint())
                } else if f == 2 && w == 2 {
                    s.message = try r.string()
                } else if f == 3 && w == 2 {
                    if let d = try retryDelay(inAny: r.lengthDelimited()) { s.retryDelay = d }
                } else {
                    try r.skip(w, field: f)
                }
            }
        } catch {
            return nil
        }
        return s
    }

    /// The delay of a `google.protobuf.Any` holding a RetryInfo; nil for any other detail.
    private static func retryDelay(inAny bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) -> Duration? {
        var r = ProtoReader(bytes)
        var typeURL = ""
        var value: UnsafeRawBufferPointer?
        while !r.atEnd {
            let (f, w) = try r.tag()
            if f == 1 && w == 2 {
                typeURL = try r.string()
            } else if f == 2 && w == 2 {
                value = try r.lengthDelimited()
            } else {
                try r.skip(w, field: f)
            }
        }
        guard typeURL.hasSuffix("/google.rpc.RetryInfo"), let value else { return nil }
        var info = ProtoReader(value)
        var delay = Duration.zero
        while !info.atEnd {
            let (f, w) = try info.tag()
            guard f == 1 && w == 2 else {
                try info.skip(w, field: f)
                continue
            }
            var d = ProtoReader(try info.lengthDelimited())
            var seconds: Int64 = 0
            var nanos: Int64 = 0
            while !d.atEnd {
                let (f2, w2) = try d.tag()
                if f2 == 1 && w2 == 0 {
                    seconds = Int64(bitPattern: try d.varint())
                } else if f2 == 2 && w2 == 0 {
                    nanos = Int64(Int32(truncatingIfNeeded: try d.varint()))
                } else {
                    try d.skip(w2, field: f2)
                }
            }
            delay = .seconds(seconds) + .nanoseconds(nanos)
        }
        return delay
    }
}
