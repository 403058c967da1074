/// `ExportTraceServiceResponse`: empty on success, or a partial success with rejected spans.
public struct ExportTraceResponse: Equatable, Sendable {
    /// nil: `partial_success` not set at all.
    public var partialSuccess: PartialSuccess?

    public struct PartialSuccess: Equatable, Sendable {
        public var rejectedSpans: Int64
        public var errorMessage: String

        public init(rejectedSpans: Int64 = 0, errorMessage: String = "") {
            self.rejectedSpans = rejectedSpans
            self.errorMessage = errorMessage
        }
    }

    public init(partialSuccess: PartialSuccess? = nil) {
        self.partialSuccess = partialSuccess
    }

    public func protobuf() -> [UInt8] {
        guard let p = partialSuccess else { return [] }
        var w = ReverseProtoWriter(capacity: 64 + p.errorMessage.utf8.count)
        let start = w.count
        if p.rejectedSpans != 0 {
            w.varint(UInt64(bitPattern: p.rejectedSpans))
            w.tag(1, 0)
        }
        if !p.errorMessage.isEmpty { w.string(2, p.errorMessage) }
        w.lengthDelimited(1, since: start)
        return w.bytes()
    }

    public func json() -> [UInt8] {
        guard let p = partialSuccess else { return Array("{}".utf8) }
        var w = JSONWriter(capacity: 64)
        w.raw("{\"partialSuccess\":{")
        if p.rejectedSpans != 0 {
            w.raw("\"rejectedSpans\":\"")
            w.int(p.rejectedSpans)
            w.byte(0x22)
            if !p.errorMessage.isEmpty { w.byte(0x2C) }
        }
        if !p.errorMessage.isEmpty {
            w.raw("\"errorMessage\":")
            w.string(p.errorMessage)
        }
        w.raw("}}")
        return w.out
    }

    public static func decodeProtobuf(_ bytes: UnsafeRawBufferPointer) throws(ProtobufDecodingError) -> ExportTraceResponse {
        var r = ProtoReader(bytes)
        var out = ExportTraceResponse()
        while !r.atEnd {
            let (f, w) = try r.tag()
            if f == 1 && w == 2 {
                var p = PartialSuccess()
                let saved = try r.enter()
                while !r.atEnd {
                    let (f2, w2) = try r.tag()
                    if f2 == 1 && w2 == 0 {
                        p.rejectedSpans = Int64(bitPattern: try r.varint())
                    } else if f2 == 2 && w2 == 2 {
                        p.errorMessage = try r.string()
                    } else {
                        try r.skip(w2, field: f2)
                    }
                }
                r.exit(saved)
                out.partialSuccess = p
            } else {
                try r.skip(w, field: f)
            }
        }
        return out
    }

    public static func decodeJSON(_ bytes: UnsafeRawBufferPointer) throws(JSONDecodingError) -> ExportTraceResponse {
        var s = JSONScanner(bytes)
        var out = ExportTraceResponse()
        guard try s.beginObject() else { return out }
        var first = true
        while let key = try s.nextKey(first: &first) {
            let k = String(decoding: key, as: UTF8.self)
            guard k == "partialSuccess" || k == "partial_success" else {
                try s.skipValue()
                continue
            }
            var p = PartialSuccess()
            if try s.beginObject() {
                var f2 = true
                while let key2 = try s.nextKey(first: &f2) {
                    switch String(decoding: key2, as: UTF8.self) {
                    case "rejectedSpans", "rejected_spans":
                        s.skipWhitespace()
                        let raw: UnsafeRawBufferPointer
                        if s.peek() == UInt8(ascii: "\"") {
                            raw = try s.readRawStringBytes()
                        } else {
                            raw = s.numberToken()
                            s.pos += raw.count
                        }
                        guard let v = Int64(String(decoding: raw, as: UTF8.self)) else { throw s.error("rejectedSpans is not an integer") }
                        p.rejectedSpans = v
                    case "errorMessage", "error_message":
                        p.errorMessage = s.consumeNull() ? "" : try s.readString()
                    default:
                        try s.skipValue()
                    }
                }
            }
            out.partialSuccess = p
        }
        return out
    }
}
