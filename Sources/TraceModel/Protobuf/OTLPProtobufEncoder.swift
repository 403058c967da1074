/// Encodes the model as an OTLP `ExportTraceServiceRequest` (same bytes as `TracesData`) in the
/// exact layout of the collector's marshaller: fields in descending number order, ids, resource,
/// scope and status always present, zero scalars and empty strings omitted.
public enum OTLPProtobufEncoder {
    public static func encode(_ data: TraceData) -> [UInt8] {
        var w = ReverseProtoWriter(capacity: 256 + data.spanCount * 1024)
        write(data, &w)
        return w.bytes()
    }

    /// Encodes and hands the bytes to `body` without copying them out.
    public static func withEncoded<R>(_ data: TraceData, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var w = ReverseProtoWriter(capacity: 256 + data.spanCount * 1024)
        write(data, &w)
        return try w.withBytes(body)
    }

    static func write(_ data: TraceData, _ w: inout ReverseProtoWriter) {
        // Top-level resource spans keep their order, like every repeated field.
        for i in data.resourceSpans.indices.reversed() {
            let rs = data.resourceSpans[i]
            let start = w.count
            resourceSpans(rs, &w)
            w.lengthDelimited(1, since: start)
        }
    }

    // The writer works back to front, so each function writes a message's fields in ascending
    // number order and they come out descending, as the collector lays them out. Repeated fields
    // are written last element first so that they come out in order.

    private static func resourceSpans(_ rs: ResourceSpans, _ w: inout ReverseProtoWriter) {
        let start = w.count
        keyValues(1, rs.resource.attributes, &w)
        if rs.resource.droppedAttributesCount != 0 {
            w.varint(UInt64(rs.resource.droppedAttributesCount))
            w.tag(2, 0)
        }
        w.lengthDelimited(1, since: start)
        for i in rs.scopeSpans.indices.reversed() {
            let ss = rs.scopeSpans[i]
            let s = w.count
            scopeSpans(ss, &w)
            w.lengthDelimited(2, since: s)
        }
        if !rs.schemaURL.isEmpty { w.string(3, rs.schemaURL) }
    }

    private static func scopeSpans(_ ss: ScopeSpans, _ w: inout ReverseProtoWriter) {
        let start = w.count
        if !ss.scope.name.isEmpty { w.string(1, ss.scope.name) }
        if !ss.scope.version.isEmpty { w.string(2, ss.scope.version) }
        keyValues(3, ss.scope.attributes, &w)
        if ss.scope.droppedAttributesCount != 0 {
            w.varint(UInt64(ss.scope.droppedAttributesCount))
            w.tag(4, 0)
        }
        w.lengthDelimited(1, since: start)
        for i in ss.spans.indices.reversed() {
            let s = ss.spans[i]
            let st = w.count
            span(s, &w)
            w.lengthDelimited(2, since: st)
        }
        if !ss.schemaURL.isEmpty { w.string(3, ss.schemaURL) }
    }

    private static func span(_ s: Span, _ w: inout ReverseProtoWriter) {
        traceID(1, s.traceID, &w)
        spanID(2, s.spanID, &w)
        if !s.traceState.isEmpty { w.string(3, s.traceState) }
        spanID(4, s.parentSpanID, &w)
        if !s.name.isEmpty { w.string(5, s.name) }
        if s.kind.rawValue != 0 {
            w.varint(UInt64(bitPattern: Int64(s.kind.rawValue)))
            w.tag(6, 0)
        }
        if s.startTimeUnixNano != 0 {
            w.fixed64(s.startTimeUnixNano)
            w.tag(7, 1)
        }
        if s.endTimeUnixNano != 0 {
            w.fixed64(s.endTimeUnixNano)
            w.tag(8, 1)
        }
        keyValues(9, s.attributes, &w)
        if s.droppedAttributesCount != 0 {
            w.varint(UInt64(s.droppedAttributesCount))
            w.tag(10, 0)
        }
        for i in s.events.indices.reversed() {
            let e = s.events[i]
            let start = w.count
            event(e, &w)
            w.lengthDelimited(11, since: start)
        }
        if s.droppedEventsCount != 0 {
            w.varint(UInt64(s.droppedEventsCount))
            w.tag(12, 0)
        }
        for i in s.links.indices.reversed() {
            let l = s.links[i]
            let start = w.count
            link(l, &w)
            w.lengthDelimited(13, since: start)
        }
        if s.droppedLinksCount != 0 {
            w.varint(UInt64(s.droppedLinksCount))
            w.tag(14, 0)
        }
        // status (15) is always present
        let statusStart = w.count
        if !s.status.message.isEmpty { w.string(2, s.status.message) }
        if s.status.code.rawValue != 0 {
            w.varint(UInt64(bitPattern: Int64(s.status.code.rawValue)))
            w.tag(3, 0)
        }
        w.lengthDelimited(15, since: statusStart)
        if s.flags != 0 {
            w.fixed32(s.flags)
            w.tag(16, 5)
        }
    }

    private static func event(_ e: SpanEvent, _ w: inout ReverseProtoWriter) {
        if e.timeUnixNano != 0 {
            w.fixed64(e.timeUnixNano)
            w.tag(1, 1)
        }
        if !e.name.isEmpty { w.string(2, e.name) }
        keyValues(3, e.attributes, &w)
        if e.droppedAttributesCount != 0 {
            w.varint(UInt64(e.droppedAttributesCount))
            w.tag(4, 0)
        }
    }

    private static func link(_ l: SpanLink, _ w: inout ReverseProtoWriter) {
        traceID(1, l.traceID, &w)
        spanID(2, l.spanID, &w)
        if !l.traceState.isEmpty { w.string(3, l.traceState) }
        keyValues(4, l.attributes, &w)
        if l.droppedAttributesCount != 0 {
            w.varint(UInt64(l.droppedAttributesCount))
            w.tag(5, 0)
        }
        if l.flags != 0 {
            w.fixed32(l.flags)
            w.tag(6, 5)
        }
    }

    /// Ids are always written (empty when zero), as the collector does.
    @inline(__always)
    private static func traceID(_ field: UInt32, _ id: TraceID, _ w: inout ReverseProtoWriter) {
        if id.isZero {
            w.byte(0)
        } else {
            w.bigEndian64(id.low)
            w.bigEndian64(id.high)
            w.byte(16)
        }
        w.tag(field, 2)
    }

    @inline(__always)
    private static func spanID(_ field: UInt32, _ id: SpanID, _ w: inout ReverseProtoWriter) {
        if id.isZero {
            w.byte(0)
        } else {
            w.bigEndian64(id.value)
            w.byte(8)
        }
        w.tag(field, 2)
    }

    private static func keyValues(_ field: UInt32, _ kvs: [KeyValue], _ w: inout ReverseProtoWriter) {
        for i in kvs.indices.reversed() {
            let kv = kvs[i]
            let start = w.count
            keyValue(kv, &w)
            w.lengthDelimited(field, since: start)
        }
    }

    private static func keyValue(_ kv: KeyValue, _ w: inout ReverseProtoWriter) {
        if !kv.key.isEmpty { w.string(1, kv.key) }
        let start = w.count
        anyValue(kv.value, &w)
        w.lengthDelimited(2, since: start)
    }

    private static func anyValue(_ v: AnyValue, _ w: inout ReverseProtoWriter) {
        switch v {
        case .empty:
            break
        case .string(let s):
            w.string(1, s)
        case .bool(let b):
            w.byte(b ? 1 : 0)
            w.tag(2, 0)
        case .int(let i):
            w.varint(UInt64(bitPattern: i))
            w.tag(3, 0)
        case .double(let d):
            w.fixed64(d.bitPattern)
            w.tag(4, 1)
        case .array(let values):
            let start = w.count
            for i in values.indices.reversed() {
            let e = values[i]
                let s = w.count
                anyValue(e, &w)
                w.lengthDelimited(1, since: s)
            }
            w.lengthDelimited(5, since: start)
        case .kvlist(let kvs):
            let start = w.count
            keyValues(1, kvs, &w)
            w.lengthDelimited(6, since: start)
        case .bytes(let b):
            let start = w.count
            b.withUnsafeBytes { w.raw($0) }
            w.lengthDelimited(7, since: start)
        }
    }
}
