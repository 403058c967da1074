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

    /// As `withEncoded(_:_:)`, writing into `storage`'s memory and leaving it there for the
    /// next call (unless it had to grow past `limit` bytes).
    public static func withEncoded<R>(
        _ data: TraceData, reusing storage: ProtobufEncodeStorage, keepingAtMost limit: Int = 64 << 20,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        var w = ReverseProtoWriter(capacity: 256 + data.spanCount * 1024, reusing: storage)
        write(data, &w)
        let result = try w.withBytes(body)
        w.give(to: storage, keepingAtMost: limit)
        return result
    }

    /// As `withEncoded(_:reusing:keepingAtMost:_:)`, encoding only the spans `selection` picks:
    /// the same bytes as encoding `data.partitioned(into:assignments:)[piece]`, without copying
    /// a span (the loadbalancing exporter sends each backend its piece of a batch this way).
    public static func withEncoded<R>(
        _ data: TraceData, selecting selection: SpanSelection, reusing storage: ProtobufEncodeStorage, keepingAtMost limit: Int = 64 << 20,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        var w = ReverseProtoWriter(capacity: 256 + selection.spanCount * 1024, reusing: storage)
        write(data, selecting: selection, &w)
        let result = try w.withBytes(body)
        w.give(to: storage, keepingAtMost: limit)
        return result
    }

    static func write(_ data: TraceData, selecting selection: SpanSelection, _ w: inout ReverseProtoWriter) {
        selection.assignments.withUnsafeBufferPointer { a in
            // Walking back to front, `end` is one past the global index of the last span not yet
            // visited; resources and scopes with no span of the piece are left out, as the
            // partition leaves them out.
            var end = a.count
            data.resourceSpans.withUnsafeBufferPointer { rss in
                for r in rss.indices.reversed() {
                    let rs = rss.baseAddress! + r
                    var n = 0
                    rs.pointee.scopeSpans.withUnsafeBufferPointer { for i in $0.indices { n += $0[i].spans.count } }
                    let lo = end - n
                    guard a[lo..<end].contains(selection.piece) else {
                        end = lo
                        continue
                    }
                    let start = w.count
                    selectedResourceSpans(rs, a, selection.piece, &end, &w)
                    w.lengthDelimited(1, since: start)
                }
            }
        }
    }

    private static func selectedResourceSpans(_ rs: UnsafePointer<ResourceSpans>, _ a: UnsafeBufferPointer<UInt16>, _ piece: UInt16,
                                              _ end: inout Int, _ w: inout ReverseProtoWriter) {
        resource(rs, &w)
        rs.pointee.scopeSpans.withUnsafeBufferPointer { sss in
            for s in sss.indices.reversed() {
                let ss = sss.baseAddress! + s
                let lo = end - ss.pointee.spans.count
                defer { end = lo }
                guard a[lo..<end].contains(piece) else { continue }
                let scopeStart = w.count
                selectedScopeSpans(ss, a, lo, piece, &w)
                w.lengthDelimited(2, since: scopeStart)
            }
        }
        if !rs.pointee.schemaURL.isEmpty { w.string(3, rs.pointee.schemaURL) }
    }

    private static func selectedScopeSpans(_ ss: UnsafePointer<ScopeSpans>, _ a: UnsafeBufferPointer<UInt16>, _ first: Int, _ piece: UInt16,
                                           _ w: inout ReverseProtoWriter) {
        scope(ss, &w)
        ss.pointee.spans.withUnsafeBufferPointer { all in
            for i in all.indices.reversed() where a[first + i] == piece {
                let spanStart = w.count
                span(all.baseAddress! + i, &w)
                w.lengthDelimited(2, since: spanStart)
            }
        }
        if !ss.pointee.schemaURL.isEmpty { w.string(3, ss.pointee.schemaURL) }
    }

    static func write(_ data: TraceData, _ w: inout ReverseProtoWriter) {
        // Top-level resource spans keep their order, like every repeated field.
        repeated(1, data.resourceSpans, &w, resourceSpans)
    }

    /// Writes each element of `list` as a length-delimited field `field`, last element first
    /// (so they come out in order), reading the elements in place.
    @inline(__always)
    private static func repeated<T>(
        _ field: UInt32, _ list: [T], _ w: inout ReverseProtoWriter,
        _ element: (UnsafePointer<T>, inout ReverseProtoWriter) -> Void
    ) {
        list.withUnsafeBufferPointer { all in
            for i in all.indices.reversed() {
                let start = w.count
                element(all.baseAddress! + i, &w)
                w.lengthDelimited(field, since: start)
            }
        }
    }

    // The writer works back to front, so each function writes a message's fields in ascending
    // number order and they come out descending, as the collector lays them out. Repeated fields
    // are written last element first so that they come out in order.
    //
    // Elements are read in place through pointers into their arrays: taking each out as a value
    // would retain and release every string and array in it (two of each per attribute), and
    // the reference counts' cache misses showed in the exporter's profile.

    private static func resourceSpans(_ rs: UnsafePointer<ResourceSpans>, _ w: inout ReverseProtoWriter) {
        resource(rs, &w)
        repeated(2, rs.pointee.scopeSpans, &w, scopeSpans)
        if !rs.pointee.schemaURL.isEmpty { w.string(3, rs.pointee.schemaURL) }
    }

    /// `ResourceSpans.resource` (field 1), for the whole request and for a selection alike.
    private static func resource(_ rs: UnsafePointer<ResourceSpans>, _ w: inout ReverseProtoWriter) {
        let start = w.count
        keyValues(1, rs.pointee.resource.attributes, &w)
        if rs.pointee.resource.droppedAttributesCount != 0 {
            w.varint(UInt64(rs.pointee.resource.droppedAttributesCount))
            w.tag(2, 0)
        }
        w.lengthDelimited(1, since: start)
    }

    private static func scopeSpans(_ ss: UnsafePointer<ScopeSpans>, _ w: inout ReverseProtoWriter) {
        scope(ss, &w)
        repeated(2, ss.pointee.spans, &w, span)
        if !ss.pointee.schemaURL.isEmpty { w.string(3, ss.pointee.schemaURL) }
    }

    /// `ScopeSpans.scope` (field 1), for the whole request and for a selection alike.
    private static func scope(_ ss: UnsafePointer<ScopeSpans>, _ w: inout ReverseProtoWriter) {
        let start = w.count
        if !ss.pointee.scope.name.isEmpty { w.string(1, ss.pointee.scope.name) }
        if !ss.pointee.scope.version.isEmpty { w.string(2, ss.pointee.scope.version) }
        keyValues(3, ss.pointee.scope.attributes, &w)
        if ss.pointee.scope.droppedAttributesCount != 0 {
            w.varint(UInt64(ss.pointee.scope.droppedAttributesCount))
            w.tag(4, 0)
        }
        w.lengthDelimited(1, since: start)
    }

    private static func span(_ p: UnsafePointer<Span>, _ w: inout ReverseProtoWriter) {
        traceID(1, p.pointee.traceID, &w)
        spanID(2, p.pointee.spanID, &w)
        if !p.pointee.traceState.isEmpty { w.string(3, p.pointee.traceState) }
        spanID(4, p.pointee.parentSpanID, &w)
        if !p.pointee.name.isEmpty { w.string(5, p.pointee.name) }
        if p.pointee.kind.rawValue != 0 {
            w.varint(UInt64(bitPattern: Int64(p.pointee.kind.rawValue)))
            w.tag(6, 0)
        }
        if p.pointee.startTimeUnixNano != 0 {
            w.fixed64(p.pointee.startTimeUnixNano)
            w.tag(7, 1)
        }
        if p.pointee.endTimeUnixNano != 0 {
            w.fixed64(p.pointee.endTimeUnixNano)
            w.tag(8, 1)
        }
        keyValues(9, p.pointee.attributes, &w)
        if p.pointee.droppedAttributesCount != 0 {
            w.varint(UInt64(p.pointee.droppedAttributesCount))
            w.tag(10, 0)
        }
        // Most spans have neither: asking first skips a retain and release of the empty list.
        if !p.pointee.events.isEmpty { repeated(11, p.pointee.events, &w, event) }
        if p.pointee.droppedEventsCount != 0 {
            w.varint(UInt64(p.pointee.droppedEventsCount))
            w.tag(12, 0)
        }
        if !p.pointee.links.isEmpty { repeated(13, p.pointee.links, &w, link) }
        if p.pointee.droppedLinksCount != 0 {
            w.varint(UInt64(p.pointee.droppedLinksCount))
            w.tag(14, 0)
        }
        // status (15) is always present
        let statusStart = w.count
        if !p.pointee.status.message.isEmpty { w.string(2, p.pointee.status.message) }
        if p.pointee.status.code.rawValue != 0 {
            w.varint(UInt64(bitPattern: Int64(p.pointee.status.code.rawValue)))
            w.tag(3, 0)
        }
        w.lengthDelimited(15, since: statusStart)
        if p.pointee.flags != 0 {
            w.fixed32(p.pointee.flags)
            w.tag(16, 5)
        }
    }

    private static func event(_ p: UnsafePointer<SpanEvent>, _ w: inout ReverseProtoWriter) {
        if p.pointee.timeUnixNano != 0 {
            w.fixed64(p.pointee.timeUnixNano)
            w.tag(1, 1)
        }
        if !p.pointee.name.isEmpty { w.string(2, p.pointee.name) }
        keyValues(3, p.pointee.attributes, &w)
        if p.pointee.droppedAttributesCount != 0 {
            w.varint(UInt64(p.pointee.droppedAttributesCount))
            w.tag(4, 0)
        }
    }

    private static func link(_ p: UnsafePointer<SpanLink>, _ w: inout ReverseProtoWriter) {
        traceID(1, p.pointee.traceID, &w)
        spanID(2, p.pointee.spanID, &w)
        if !p.pointee.traceState.isEmpty { w.string(3, p.pointee.traceState) }
        keyValues(4, p.pointee.attributes, &w)
        if p.pointee.droppedAttributesCount != 0 {
            w.varint(UInt64(p.pointee.droppedAttributesCount))
            w.tag(5, 0)
        }
        if p.pointee.flags != 0 {
            w.fixed32(p.pointee.flags)
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

    /// The hottest list (a dozen per span): spelled out rather than through `repeated`, which
    /// the compiler does not inline `keyValue` into (4 % more instructions per encode).
    private static func keyValues(_ field: UInt32, _ kvs: [KeyValue], _ w: inout ReverseProtoWriter) {
        kvs.withUnsafeBufferPointer { all in
            for i in all.indices.reversed() {
                let start = w.count
                keyValue(all.baseAddress! + i, &w)
                w.lengthDelimited(field, since: start)
            }
        }
    }

    private static func keyValue(_ kv: UnsafePointer<KeyValue>, _ w: inout ReverseProtoWriter) {
        if !kv.pointee.key.isEmpty { w.string(1, kv.pointee.key) }
        let start = w.count
        anyValue(kv.pointee.value, &w)
        w.lengthDelimited(2, since: start)
    }

    private static func anyValue(_ v: borrowing AnyValue, _ w: inout ReverseProtoWriter) {
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
            repeated(1, values, &w) { e, w in anyValue(e.pointee, &w) }
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
