/// The size in bytes `OTLPProtobufEncoder` would write, computed without writing: tail
/// sampling's `maximum_trace_size_bytes` adds up each arriving piece of a trace as the collector
/// does (the protobuf size of a `ResourceSpans` holding it), and encoding every piece to count it
/// would cost more than the rest of the ingest.
public enum OTLPProtobufSize {
    /// The size of the whole request (`ExportTraceServiceRequest`).
    public static func request(_ data: TraceData) -> Int {
        var n = 0
        for rs in data.resourceSpans {
            var body = resource(rs.resource) + string(3, rs.schemaURL)
            for ss in rs.scopeSpans { body += field(2, scopeSpans(ss.scope, ss.schemaURL, ss.spans)) }
            n += field(1, body)
        }
        return n
    }

    /// The size of a `ResourceSpans` holding `spans` under one resource and one scope.
    public static func resourceSpans(_ resource: Resource, schemaURL: String, scope: InstrumentationScope, scopeSchemaURL: String,
                                     spans: [Span]) -> Int {
        Self.resource(resource) + field(2, scopeSpans(scope, scopeSchemaURL, spans)) + string(3, schemaURL)
    }

    private static func resource(_ r: Resource) -> Int {
        field(1, keyValues(1, r.attributes) + varintField(2, UInt64(r.droppedAttributesCount)))
    }

    private static func scopeSpans(_ scope: InstrumentationScope, _ schemaURL: String, _ spans: [Span]) -> Int {
        let scopeBody = string(1, scope.name) + string(2, scope.version) + keyValues(3, scope.attributes)
            + varintField(4, UInt64(scope.droppedAttributesCount))
        var n = field(1, scopeBody) + string(3, schemaURL)
        spans.withUnsafeBufferPointer { all in
            for i in all.indices { n += field(2, span(all.baseAddress! + i)) }
        }
        return n
    }

    private static func span(_ p: UnsafePointer<Span>) -> Int {
        var n = id(p.pointee.traceID.isZero ? 0 : 16) + id(p.pointee.spanID.isZero ? 0 : 8) + id(p.pointee.parentSpanID.isZero ? 0 : 8)
        n += string(3, p.pointee.traceState) + string(5, p.pointee.name)
        n += varintField(6, UInt64(bitPattern: Int64(p.pointee.kind.rawValue)))
        if p.pointee.startTimeUnixNano != 0 { n += 9 }
        if p.pointee.endTimeUnixNano != 0 { n += 9 }
        n += keyValues(9, p.pointee.attributes) + varintField(10, UInt64(p.pointee.droppedAttributesCount))
        if !p.pointee.events.isEmpty {
            for e in p.pointee.events {
                n += field(11, (e.timeUnixNano != 0 ? 9 : 0) + string(2, e.name) + keyValues(3, e.attributes)
                    + varintField(4, UInt64(e.droppedAttributesCount)))
            }
        }
        n += varintField(12, UInt64(p.pointee.droppedEventsCount))
        if !p.pointee.links.isEmpty {
            for l in p.pointee.links {
                n += field(13, id(l.traceID.isZero ? 0 : 16) + id(l.spanID.isZero ? 0 : 8) + string(3, l.traceState)
                    + keyValues(4, l.attributes) + varintField(5, UInt64(l.droppedAttributesCount)) + (l.flags != 0 ? 5 : 0))
            }
        }
        n += varintField(14, UInt64(p.pointee.droppedLinksCount))
        // status (15) is always present; flags (16) takes a two-byte tag.
        n += field(15, string(2, p.pointee.status.message) + varintField(3, UInt64(bitPattern: Int64(p.pointee.status.code.rawValue))))
        if p.pointee.flags != 0 { n += 6 }
        return n
    }

    private static func keyValues(_ number: UInt32, _ kvs: [KeyValue]) -> Int {
        kvs.withUnsafeBufferPointer { all in
            var n = 0
            for i in all.indices {
                n += field(number, string(1, all[i].key) + field(2, anyValue(all[i].value)))
            }
            return n
        }
    }

    private static func anyValue(_ v: borrowing AnyValue) -> Int {
        switch v {
        case .empty: return 0
        case .string(let s): return field(1, s.utf8.count)
        case .bool: return 2
        case .int(let i): return 1 + ProtoWire.varintSize(UInt64(bitPattern: i))
        case .double: return 9
        case .array(let values): return field(5, values.reduce(0) { $0 + field(1, anyValue($1)) })
        case .kvlist(let kvs): return field(6, keyValues(1, kvs))
        case .bytes(let b): return field(7, b.count)
        }
    }

    /// An id field: always written, empty when zero (one-byte tag, one-byte length).
    @inline(__always) private static func id(_ bytes: Int) -> Int { 2 + bytes }

    /// A length-delimited field holding `length` bytes (field numbers below 16: one-byte tag).
    @inline(__always) private static func field(_ number: UInt32, _ length: Int) -> Int {
        1 + ProtoWire.varintSize(UInt64(length)) + length
    }

    /// A string field, left out when empty.
    @inline(__always) private static func string(_ number: UInt32, _ s: borrowing String) -> Int {
        s.isEmpty ? 0 : field(number, s.utf8.count)
    }

    /// A varint field, left out when zero.
    @inline(__always) private static func varintField(_ number: UInt32, _ v: UInt64) -> Int {
        v == 0 ? 0 : 1 + ProtoWire.varintSize(v)
    }
}
