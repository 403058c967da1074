/// Encodes the model as OTLP/JSON the way the collector does: lowerCamelCase keys in proto field
/// order, zero values and empty lists omitted, 64-bit integers as strings, enums and 32-bit counts
/// as numbers, ids as lower-case hex, `resource`, `scope` and `status` always present.
public enum OTLPJSONEncoder {
    public static func encode(_ data: TraceData) -> [UInt8] {
        // Room for typical spans up front: growing a large buffer by doubling costs copies and page faults.
        var w = JSONWriter(capacity: 512 + data.spanCount * 1600)
        encode(data, into: &w)
        return w.out
    }

    /// Appends the encoding to `buffer` (e.g. a file exporter's line buffer).
    public static func encode(_ data: TraceData, appendingTo buffer: inout [UInt8]) {
        var w = JSONWriter(capacity: 0)
        swap(&w.out, &buffer)
        encode(data, into: &w)
        swap(&w.out, &buffer)
    }

    /// Ends a resource's or scope's list of children and the object, with its schema URL if any.
    private static func closeWithSchemaURL(_ url: String, _ w: inout JSONWriter) {
        w.byte(UInt8(ascii: "]"))
        if !url.isEmpty {
            w.raw(",\"schemaUrl\":")
            w.string(url)
        }
        w.byte(UInt8(ascii: "}"))
    }

    /// An object member's key (with its colon), after a comma when a member came before.
    @inline(__always)
    private static func key(_ key: StaticString, _ sep: inout Bool, _ w: inout JSONWriter) {
        if sep { w.byte(0x2C) }
        w.raw(key)
        sep = true
    }

    /// Writes `list`'s elements separated by commas (the brackets are the caller's).
    @inline(__always)
    private static func elements<T>(_ list: [T], _ w: inout JSONWriter, _ write: (T, inout JSONWriter) -> Void) {
        for (i, e) in list.enumerated() {
            if i > 0 { w.byte(0x2C) }
            write(e, &w)
        }
    }

    static func encode(_ data: TraceData, into w: inout JSONWriter) {
        w.raw("{\"resourceSpans\":[")
        elements(data.resourceSpans, &w, resourceSpans)
        w.raw("]}")
    }

    private static func resourceSpans(_ rs: ResourceSpans, _ w: inout JSONWriter) {
        w.raw("{\"resource\":{")
        var sep = false
        attributesAndDropped(rs.resource.attributes, rs.resource.droppedAttributesCount, &sep, &w)
        w.raw("},\"scopeSpans\":[")
        elements(rs.scopeSpans, &w, scopeSpans)
        closeWithSchemaURL(rs.schemaURL, &w)
    }

    private static func scopeSpans(_ ss: ScopeSpans, _ w: inout JSONWriter) {
        w.raw("{\"scope\":{")
        var sep = false
        if !ss.scope.name.isEmpty { key("\"name\":", &sep, &w); w.string(ss.scope.name) }
        if !ss.scope.version.isEmpty { key("\"version\":", &sep, &w); w.string(ss.scope.version) }
        attributesAndDropped(ss.scope.attributes, ss.scope.droppedAttributesCount, &sep, &w)
        w.raw("},\"spans\":[")
        elements(ss.spans, &w, span)
        closeWithSchemaURL(ss.schemaURL, &w)
    }

    private static func attributesAndDropped(_ attrs: [KeyValue], _ dropped: UInt32, _ sep: inout Bool, _ w: inout JSONWriter) {
        listAndDropped("\"attributes\":", attrs, "\"droppedAttributesCount\":", dropped, &sep, &w, keyValue)
    }

    /// A repeated field (left out when empty) and the count of its dropped elements (left out
    /// when zero), each after a comma when something came before.
    @inline(__always)
    private static func listAndDropped<T>(_ key: StaticString, _ list: [T], _ droppedKey: StaticString, _ dropped: UInt32,
                                          _ sep: inout Bool, _ w: inout JSONWriter, _ write: (T, inout JSONWriter) -> Void) {
        if !list.isEmpty {
            self.key(key, &sep, &w)
            w.byte(UInt8(ascii: "["))
            elements(list, &w, write)
            w.byte(UInt8(ascii: "]"))
        }
        if dropped != 0 {
            self.key(droppedKey, &sep, &w)
            w.uint(UInt64(dropped))
        }
    }

    private static func span(_ s: Span, _ w: inout JSONWriter) {
        w.byte(UInt8(ascii: "{"))
        var sep = false
        if !s.traceID.isZero { key("\"traceId\":", &sep, &w); w.quotedHex(s.traceID.high, s.traceID.low) }
        if !s.spanID.isZero { key("\"spanId\":", &sep, &w); w.quotedHex(s.spanID.value) }
        if !s.traceState.isEmpty { key("\"traceState\":", &sep, &w); w.string(s.traceState) }
        if !s.parentSpanID.isZero { key("\"parentSpanId\":", &sep, &w); w.quotedHex(s.parentSpanID.value) }
        if s.flags != 0 { key("\"flags\":", &sep, &w); w.uint(UInt64(s.flags)) }
        if !s.name.isEmpty { key("\"name\":", &sep, &w); w.string(s.name) }
        if s.kind.rawValue != 0 { key("\"kind\":", &sep, &w); w.int(Int64(s.kind.rawValue)) }
        if s.startTimeUnixNano != 0 { key("\"startTimeUnixNano\":", &sep, &w); w.quotedUInt(s.startTimeUnixNano) }
        if s.endTimeUnixNano != 0 { key("\"endTimeUnixNano\":", &sep, &w); w.quotedUInt(s.endTimeUnixNano) }
        attributesAndDropped(s.attributes, s.droppedAttributesCount, &sep, &w)
        listAndDropped("\"events\":", s.events, "\"droppedEventsCount\":", s.droppedEventsCount, &sep, &w, event)
        listAndDropped("\"links\":", s.links, "\"droppedLinksCount\":", s.droppedLinksCount, &sep, &w, link)
        key("\"status\":{", &sep, &w)
        if !s.status.message.isEmpty {
            w.raw("\"message\":")
            w.string(s.status.message)
            if s.status.code.rawValue != 0 { w.byte(0x2C) }
        }
        if s.status.code.rawValue != 0 {
            w.raw("\"code\":")
            w.int(Int64(s.status.code.rawValue))
        }
        w.raw("}}")
    }

    private static func event(_ e: SpanEvent, _ w: inout JSONWriter) {
        w.byte(UInt8(ascii: "{"))
        var sep = false
        if e.timeUnixNano != 0 { key("\"timeUnixNano\":", &sep, &w); w.quotedUInt(e.timeUnixNano) }
        if !e.name.isEmpty { key("\"name\":", &sep, &w); w.string(e.name) }
        attributesAndDropped(e.attributes, e.droppedAttributesCount, &sep, &w)
        w.byte(UInt8(ascii: "}"))
    }

    private static func link(_ l: SpanLink, _ w: inout JSONWriter) {
        w.byte(UInt8(ascii: "{"))
        var sep = false
        if !l.traceID.isZero { key("\"traceId\":", &sep, &w); w.quotedHex(l.traceID.high, l.traceID.low) }
        if !l.spanID.isZero { key("\"spanId\":", &sep, &w); w.quotedHex(l.spanID.value) }
        if !l.traceState.isEmpty { key("\"traceState\":", &sep, &w); w.string(l.traceState) }
        attributesAndDropped(l.attributes, l.droppedAttributesCount, &sep, &w)
        if l.flags != 0 { key("\"flags\":", &sep, &w); w.uint(UInt64(l.flags)) }
        w.byte(UInt8(ascii: "}"))
    }

    static func keyValues(_ kvs: [KeyValue], _ w: inout JSONWriter) {
        w.byte(UInt8(ascii: "["))
        elements(kvs, &w, keyValue)
        w.byte(UInt8(ascii: "]"))
    }

    private static func keyValue(_ kv: KeyValue, _ w: inout JSONWriter) {
        w.raw("{\"key\":")
        w.string(kv.key)
        w.raw(",\"value\":")
        anyValue(kv.value, &w)
        w.byte(UInt8(ascii: "}"))
    }

    static func anyValue(_ v: AnyValue, _ w: inout JSONWriter) {
        switch v {
        case .empty:
            w.raw("{}")
        case .string(let s):
            w.raw("{\"stringValue\":")
            w.string(s)
            w.byte(UInt8(ascii: "}"))
        case .bool(let b):
            b ? w.raw("{\"boolValue\":true}") : w.raw("{\"boolValue\":false}")
        case .int(let i):
            w.raw("{\"intValue\":\"")
            w.int(i)
            w.raw("\"}")
        case .double(let d):
            w.raw("{\"doubleValue\":")
            w.double(d)
            w.byte(UInt8(ascii: "}"))
        case .bytes(let b):
            w.raw("{\"bytesValue\":\"")
            Base64.encode(b, into: &w.out)
            w.raw("\"}")
        case .array(let values):
            w.raw("{\"arrayValue\":{")
            if !values.isEmpty {
                w.raw("\"values\":[")
                elements(values, &w, anyValue)
                w.byte(UInt8(ascii: "]"))
            }
            w.raw("}}")
        case .kvlist(let kvs):
            w.raw("{\"kvlistValue\":{")
            if !kvs.isEmpty {
                w.raw("\"values\":")
                keyValues(kvs, &w)
            }
            w.raw("}}")
        }
    }
}
