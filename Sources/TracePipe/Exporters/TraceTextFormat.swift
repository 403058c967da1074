import Foundation
import TraceModel

/// Human-readable renderings of trace data in the layouts of the collector's debug exporter.
enum TraceTextFormat {
    static func normal(_ data: TraceData) -> String {
        var lines: [String] = []
        for (i, rs) in data.resourceSpans.enumerated() {
            var head = "ResourceTraces #\(i)"
            if !rs.schemaURL.isEmpty { head += " [\(rs.schemaURL)]" }
            let attrs = flat(rs.resource.attributes)
            if !attrs.isEmpty { head += " " + attrs }
            lines.append(head)
            for (j, ss) in rs.scopeSpans.enumerated() {
                var scope = "ScopeTraces #\(j)"
                let name = ss.scope.version.isEmpty ? ss.scope.name : "\(ss.scope.name)@\(ss.scope.version)"
                if !name.isEmpty { scope += " " + name }
                if !ss.schemaURL.isEmpty { scope += " [\(ss.schemaURL)]" }
                let sattrs = flat(ss.scope.attributes)
                if !sattrs.isEmpty { scope += " " + sattrs }
                lines.append(scope)
                for s in ss.spans {
                    var line = "\(s.name) \(s.traceID.hex) \(s.spanID.hex)"
                    let a = flat(s.attributes)
                    if !a.isEmpty { line += " " + a }
                    lines.append(line)
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func detailed(_ data: TraceData) -> String {
        var out: [String] = []
        for (i, rs) in data.resourceSpans.enumerated() {
            out.append("ResourceSpans #\(i)")
            out.append("Resource SchemaURL: \(rs.schemaURL)")
            attributes("Resource attributes", rs.resource.attributes, indent: "     ", &out)
            for (j, ss) in rs.scopeSpans.enumerated() {
                out.append("ScopeSpans #\(j)")
                out.append("ScopeSpans SchemaURL: \(ss.schemaURL)")
                out.append("InstrumentationScope \(ss.scope.name) \(ss.scope.version)")
                attributes("InstrumentationScope attributes", ss.scope.attributes, indent: "     ", &out)
                for (k, s) in ss.spans.enumerated() {
                    out.append("Span #\(k)")
                    out.append("    Trace ID       : \(s.traceID.isZero ? "" : s.traceID.hex)")
                    out.append("    Parent ID      : \(s.parentSpanID.isZero ? "" : s.parentSpanID.hex)")
                    out.append("    ID             : \(s.spanID.isZero ? "" : s.spanID.hex)")
                    out.append("    Name           : \(s.name)")
                    out.append("    Kind           : \(kindName(s.kind))")
                    if !s.traceState.isEmpty { out.append("    TraceState     : \(s.traceState)") }
                    out.append("    Start time     : \(goTime(s.startTimeUnixNano))")
                    out.append("    End time       : \(goTime(s.endTimeUnixNano))")
                    out.append("    Status code    : \(statusName(s.status.code))")
                    out.append("    Status message : \(s.status.message)")
                    out.append("    DroppedAttributesCount: \(s.droppedAttributesCount)")
                    out.append("    DroppedEventsCount: \(s.droppedEventsCount)")
                    out.append("    DroppedLinksCount: \(s.droppedLinksCount)")
                    attributes("Attributes", s.attributes, indent: "     ", &out)
                    numbered("Events:", "SpanEvent", s.events, &out) { ev, out in
                        out.append("     -> Name: \(ev.name)")
                        out.append("     -> Timestamp: \(goTime(ev.timeUnixNano))")
                        out.append("     -> DroppedAttributesCount: \(ev.droppedAttributesCount)")
                        nestedAttributes(ev.attributes, &out)
                    }
                    numbered("Links:", "SpanLink", s.links, &out) { link, out in
                        out.append("     -> Trace ID: \(link.traceID.hex)")
                        out.append("     -> ID: \(link.spanID.hex)")
                        out.append("     -> TraceState: \(link.traceState)")
                        out.append("     -> DroppedAttributesCount: \(link.droppedAttributesCount)")
                        nestedAttributes(link.attributes, &out)
                    }
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// A titled, numbered list (a span's events or links), each item as `body` writes it.
    private static func numbered<T>(_ title: String, _ item: String, _ list: [T], _ out: inout [String], _ body: (T, inout [String]) -> Void) {
        guard !list.isEmpty else { return }
        out.append(title)
        for (i, x) in list.enumerated() {
            out.append("\(item) #\(i)")
            body(x, &out)
        }
    }

    /// An event's or link's attributes, as the debug exporter indents them.
    private static func nestedAttributes(_ attrs: [KeyValue], _ out: inout [String]) {
        guard !attrs.isEmpty else { return }
        out.append("     -> Attributes::")
        for kv in attrs { out.append("          -> \(kv.key): \(typed(kv.value))") }
    }

    private static func attributes(_ title: String, _ attrs: [KeyValue], indent: String, _ out: inout [String]) {
        guard !attrs.isEmpty else { return }
        out.append("\(title):")
        for kv in attrs { out.append("\(indent)-> \(kv.key): \(typed(kv.value))") }
    }

    static func kindName(_ k: SpanKind) -> String {
        switch k {
        case .internal: return "Internal"
        case .server: return "Server"
        case .client: return "Client"
        case .producer: return "Producer"
        case .consumer: return "Consumer"
        default: return "Unspecified"
        }
    }

    static func statusName(_ c: StatusCode) -> String {
        switch c {
        case .ok: return "Ok"
        case .error: return "Error"
        default: return "Unset"
        }
    }

    /// `k=v k=v` with lists and maps as JSON and bytes as base64.
    static func flat(_ attrs: [KeyValue]) -> String {
        attrs.map { "\($0.key)=\(plain($0.value))" }.joined(separator: " ")
    }

    static func plain(_ v: AnyValue) -> String {
        switch v {
        case .string(let s): return s
        case .empty: return ""
        case .bytes(let b): return Base64.encode(b)
        default: return rawJSON(v)
        }
    }

    /// `Str(x)`, `Int(1)`, `Slice([...])` as in the collector's detailed output.
    static func typed(_ v: AnyValue) -> String {
        switch v {
        case .empty: return "Empty()"
        case .string(let s): return "Str(\(s))"
        case .bool(let b): return "Bool(\(b))"
        case .int(let i): return "Int(\(i))"
        case .double(let d): return "Double(\(number(d)))"
        case .bytes(let b): return "Bytes(\(Base64.encode(b)))"
        case .array: return "Slice(\(rawJSON(v)))"
        case .kvlist: return "Map(\(rawJSON(v)))"
        }
    }

    static func number(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
        if d == d.rounded() && abs(d) < 1e21 { return String(format: "%.0f", d) }
        return "\(d)"
    }

    /// The value as plain JSON (not OTLP's wrapped form): `["a",1]`, `{"k":"v"}`.
    static func rawJSON(_ v: AnyValue) -> String {
        var out = [UInt8]()
        rawJSON(v, &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func rawJSON(_ v: AnyValue, _ out: inout [UInt8]) {
        switch v {
        case .empty: out.append(contentsOf: "null".utf8)
        case .string(let s): JSONText.appendString(s, to: &out)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d): out.append(contentsOf: (d.isFinite ? number(d) : "\"\(number(d))\"").utf8)
        case .bytes(let b): JSONText.appendString(Base64.encode(b), to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, e) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                rawJSON(e, &out)
            }
            out.append(UInt8(ascii: "]"))
        case .kvlist(let kvs):
            out.append(UInt8(ascii: "{"))
            for (i, kv) in kvs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(kv.key, to: &out)
                out.append(UInt8(ascii: ":"))
                rawJSON(kv.value, &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Go's `time.Time.String()` in UTC: `2018-12-13 14:51:01.5 +0000 UTC`.
    static func goTime(_ ns: UInt64) -> String {
        var t = time_t(ns / 1_000_000_000)
        var tm = tm()
        gmtime_r(&t, &tm)
        var s = String(format: "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
        let frac = ns % 1_000_000_000
        if frac != 0 {
            var f = String(format: "%09llu", frac)
            while f.hasSuffix("0") { f.removeLast() }
            s += "." + f
        }
        return s + " +0000 UTC"
    }
}
