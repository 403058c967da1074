/// A Zipkin span in the v2 model (v1 input is converted to it), before translation to OTLP.
public struct ZipkinSpan: Sendable, Equatable {
    public struct Endpoint: Sendable, Equatable {
        public var serviceName = ""
        public var ipv4 = ""
        public var ipv6 = ""
        public var port = 0

        public init() {}
        public var ip: String { ipv4.isEmpty ? ipv6 : ipv4 }
    }

    public struct Annotation: Sendable, Equatable {
        public var timestamp: UInt64
        public var value: String
    }

    public var traceID = TraceID.zero
    public var id = SpanID.zero
    public var parentID = SpanID.zero
    public var name = ""
    /// `CLIENT`, `SERVER`, `PRODUCER`, `CONSUMER`, or empty.
    public var kind = ""
    /// Microseconds since the epoch; nil when absent.
    public var timestamp: UInt64?
    /// Microseconds; nil when absent.
    public var duration: UInt64?
    public var debug = false
    public var shared = false
    public var localEndpoint: Endpoint?
    public var remoteEndpoint: Endpoint?
    public var annotations: [Annotation] = []
    /// In input order (Zipkin tags are a map; the order carries no meaning).
    public var tags: [(key: String, value: String)] = []
    /// Resource attributes v1 input contributes besides the service name (`ipv4`, `port`).
    public var extraResource: [KeyValue] = []
    /// v1 input without any endpoint: the collector names the service "unknown-service".
    public var serviceNameFallback = ""

    public init() {}

    public static func == (a: ZipkinSpan, b: ZipkinSpan) -> Bool {
        a.traceID == b.traceID && a.id == b.id && a.parentID == b.parentID && a.name == b.name && a.kind == b.kind
            && a.timestamp == b.timestamp && a.duration == b.duration && a.debug == b.debug && a.shared == b.shared
            && a.localEndpoint == b.localEndpoint && a.remoteEndpoint == b.remoteEndpoint && a.annotations == b.annotations
            && a.tags.map(\.key) == b.tags.map(\.key) && a.tags.map(\.value) == b.tags.map(\.value)
            && a.extraResource == b.extraResource && a.serviceNameFallback == b.serviceNameFallback
    }
}

/// A Zipkin body that cannot be decoded; the message is what the client gets back.
public struct ZipkinDecodingError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

enum ZipkinIDs {
    /// A Zipkin id: up to 16 (span) or 32 (trace) hex digits, read as a number, so shorter ids
    /// are left-padded with zeros (as the collector does).
    static func parse(_ raw: UnsafeRawBufferPointer, maxDigits: Int) throws(ZipkinDecodingError) -> (high: UInt64, low: UInt64) {
        // A local function, not a closure value: nothing is allocated unless an error needs the text.
        func text() -> String { String(decoding: raw, as: UTF8.self) }
        guard raw.count <= maxDigits else { throw ZipkinDecodingError("strconv.ParseUint: parsing \"\(text())\": value out of range") }
        var high: UInt64 = 0
        var low: UInt64 = 0
        let split = max(0, raw.count - 16)
        for (i, c) in raw.enumerated() {
            let n = Hex.nibble(c)
            guard n != 0xFF else { throw ZipkinDecodingError("strconv.ParseUint: parsing \"\(text())\": invalid syntax") }
            if i < split { high = high << 4 | UInt64(n) } else { low = low << 4 | UInt64(n) }
        }
        return (high, low)
    }
}
