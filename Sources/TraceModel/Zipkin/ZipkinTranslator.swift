#if canImport(Glibc)
import Glibc
#endif

/// Translates Zipkin spans into OTLP the way the collector's translator does (see the
/// conformance vectors in ../shared/conformance/zipkin-v2): resources per local service, scopes
/// per instrumentation library, special tags mapped to OTLP fields, endpoints to attributes.
public enum ZipkinTranslator {
    public static func translate(_ spans: [ZipkinSpan], parseStringTags: Bool) -> TraceData {
        struct Group {
            var service: String
            var resource: Resource
            var scope: InstrumentationScope
            var spans: [Span]
        }
        var groups: [Group] = []
        // Spans and groups are read in place (through indices), not copied out one by one.
        for z in spans.indices {
            let (span, resourceAttrs, scope) = translate(spans[z], parseStringTags: parseStringTags)
            let local = spans[z].localEndpoint?.serviceName ?? ""
            let service = local.isEmpty ? spans[z].serviceNameFallback : local
            var resource = Resource()
            if !service.isEmpty { resource.attributes.append(KeyValue("service.name", .string(service))) }
            if !spans[z].extraResource.isEmpty { resource.attributes += spans[z].extraResource }
            if !resourceAttrs.isEmpty { resource.attributes += resourceAttrs }
            // A request's spans mostly come from one service in a row: the last group first.
            var match = groups.count - 1
            if match < 0 || !(groups[match].service == service && groups[match].scope == scope && groups[match].resource == resource) {
                match = groups.indices.first { groups[$0].service == service && groups[$0].scope == scope && groups[$0].resource == resource } ?? -1
            }
            if match >= 0 {
                groups[match].spans.append(span)
            } else {
                groups.append(Group(service: service, resource: resource, scope: scope, spans: [span]))
            }
        }
        // Resources ordered by service name, scopes by library name, as the collector sorts them.
        groups.sort { ($0.service, $0.scope.name) < ($1.service, $1.scope.name) }
        var data = TraceData()
        for g in groups {
            let ss = ScopeSpans(scope: g.scope, spans: g.spans)
            if let i = data.resourceSpans.firstIndex(where: { $0.resource == g.resource }) {
                data.resourceSpans[i].scopeSpans.append(ss)
            } else {
                data.resourceSpans.append(ResourceSpans(resource: g.resource, scopeSpans: [ss]))
            }
        }
        return data
    }

    static func translate(_ z: ZipkinSpan, parseStringTags: Bool) -> (Span, [KeyValue], InstrumentationScope) {
        var s = Span()
        s.traceID = z.traceID
        s.spanID = z.id
        if z.parentID != z.id { s.parentSpanID = z.parentID }
        s.name = z.name
        switch z.kind {
        case "CLIENT": s.kind = .client
        case "SERVER": s.kind = .server
        case "PRODUCER": s.kind = .producer
        case "CONSUMER": s.kind = .consumer
        default: s.kind = .unspecified
        }
        if let ts = z.timestamp {
            s.startTimeUnixNano = ts &* 1000
            s.endTimeUnixNano = s.startTimeUnixNano &+ (z.duration ?? 0) &* 1000
        } else {
            s.endTimeUnixNano = (z.duration ?? 0) &* 1000
        }

        var resourceAttrs: [KeyValue] = []
        var scope = InstrumentationScope()
        var libraryName = "", libraryVersion = "", scopeName = "", scopeVersion = ""
        var statusCode: StatusCode?
        var statusMessage: String?
        var errorTag = false
        var links: [(Int, SpanLink)] = []
        // Endpoint attributes first, then the tags in order: built in place, in one allocation.
        s.attributes.reserveCapacity(z.tags.count + 6)
        if let l = z.localEndpoint {
            if !l.ip.isEmpty { s.attributes.append(KeyValue("network.local.address", .string(l.ip))) }
            if l.port > 0 { s.attributes.append(KeyValue("net.host.port", .int(Int64(l.port)))) }
        }
        if let r = z.remoteEndpoint {
            if !r.serviceName.isEmpty { s.attributes.append(KeyValue("service.peer.name", .string(r.serviceName))) }
            if !r.ip.isEmpty { s.attributes.append(KeyValue("network.peer.address", .string(r.ip))) }
            if r.port > 0 { s.attributes.append(KeyValue("net.peer.port", .int(Int64(r.port)))) }
        }
        for t in z.tags.indices {
            let key = z.tags[t].key, value = z.tags[t].value
            // Special tags are otel.*/otlp.link.* and three exact names; other keys skip the
            // string comparisons of the switch below (a compare per case otherwise).
            let special: Bool
            switch key.utf8.first ?? 0 {
            case UInt8(ascii: "o"): special = true
            case UInt8(ascii: "w"): special = key.utf8.count == 14 && key == "w3c.tracestate"
            case UInt8(ascii: "s"): special = key.utf8.count == 9 && key == "span.kind"
            case UInt8(ascii: "e"): special = key.utf8.count == 5 && key == "error"
            default: special = false
            }
            guard special else {
                if isResourceAttribute(key) {
                    resourceAttrs.append(KeyValue(key, tagValue(value, parse: parseStringTags)))
                } else {
                    s.attributes.append(KeyValue(key, tagValue(value, parse: parseStringTags)))
                }
                continue
            }
            switch key {
            case "otel.library.name": libraryName = value
            case "otel.library.version": libraryVersion = value
            case "otel.scope.name": scopeName = value
            case "otel.scope.version": scopeVersion = value
            case "w3c.tracestate": s.traceState = value
            case "span.kind" where z.kind.isEmpty && value.lowercased() == "internal":
                s.kind = .internal
            case "otel.status_code":
                switch value {
                case "STATUS_CODE_ERROR", "Error": statusCode = .error
                case "STATUS_CODE_OK", "Ok": statusCode = .ok
                case "STATUS_CODE_UNSET", "Unset": statusCode = .unset
                default: break
                }
            case "otel.status_description": statusMessage = value
            case "error":
                errorTag = true
                // Only the plain "true" flag is consumed; a message stays visible as an attribute.
                if value != "true" { s.attributes.append(KeyValue(key, .string(value))) }
            default:
                if key.hasPrefix("otlp.link."), let n = Int(key.dropFirst("otlp.link.".count)), let link = parseLink(value) {
                    links.append((n, link))
                } else if isResourceAttribute(key) {
                    resourceAttrs.append(KeyValue(key, tagValue(value, parse: parseStringTags)))
                } else {
                    s.attributes.append(KeyValue(key, tagValue(value, parse: parseStringTags)))
                }
            }
        }
        scope.name = scopeName.isEmpty ? libraryName : scopeName
        scope.version = scopeVersion.isEmpty ? libraryVersion : scopeVersion
        if let c = statusCode { s.status.code = c }
        if let m = statusMessage { s.status.message = m }
        if errorTag { s.status.code = .error }
        s.links = links.sorted { $0.0 < $1.0 }.map(\.1)

        if z.timestamp == nil { s.attributes.append(KeyValue("otel.zipkin.absentField.startTime", .bool(true))) }
        s.events = z.annotations.map(event)
        return (s, resourceAttrs, scope)
    }

    /// `name|{json attrs}|dropped` or a plain name.
    static func event(_ a: ZipkinSpan.Annotation) -> SpanEvent {
        var e = SpanEvent(timeUnixNano: a.timestamp &* 1000, name: a.value)
        let parts = a.value.split(separator: "|", omittingEmptySubsequences: false)
        if parts.count == 3, parts[1].hasPrefix("{"), let dropped = UInt32(parts[2]), let attrs = jsonAttributes(String(parts[1])) {
            e.name = String(parts[0])
            e.attributes = attrs
            e.droppedAttributesCount = dropped
        }
        return e
    }

    /// `traceId|spanId|traceState|{json attrs}|dropped`.
    static func parseLink(_ v: String) -> SpanLink? {
        let parts = v.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].count == 32, parts[1].count == 16,
              let th = UInt64(parts[0].prefix(16), radix: 16), let tl = UInt64(parts[0].suffix(16), radix: 16),
              let sid = UInt64(parts[1], radix: 16), let dropped = UInt32(parts[4]) else { return nil }
        var l = SpanLink(traceID: TraceID(high: th, low: tl), spanID: SpanID(sid), traceState: String(parts[2]))
        l.attributes = jsonAttributes(String(parts[3])) ?? []
        l.droppedAttributesCount = dropped
        return l
    }

    /// A flat JSON object's members as attributes: integral numbers → int, other numbers →
    /// double, booleans, strings. nil when the text is not such an object.
    static func jsonAttributes(_ text: String) -> [KeyValue]? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw -> [KeyValue]? in
            var s = JSONScanner(raw)
            var out: [KeyValue] = []
            do {
                guard try s.beginObject() else { return nil }
                var first = true
                while let key = try s.nextKeyString(first: &first) {
                    s.skipWhitespace()
                    switch s.peek() {
                    case UInt8(ascii: "\""):
                        out.append(KeyValue(key, .string(try s.readString())))
                    case UInt8(ascii: "t"):
                        guard s.consumeLiteral("true") else { return nil }
                        out.append(KeyValue(key, .bool(true)))
                    case UInt8(ascii: "f"):
                        guard s.consumeLiteral("false") else { return nil }
                        out.append(KeyValue(key, .bool(false)))
                    default:
                        let tok = s.numberToken()
                        guard tok.count > 0 else { return nil }
                        s.pos += tok.count
                        let t = String(decoding: tok, as: UTF8.self)
                        if let i = Int64(t) {
                            out.append(KeyValue(key, .int(i)))
                        } else if let d = Double(t) {
                            out.append(d == d.rounded() && abs(d) < 9e15 ? KeyValue(key, .int(Int64(d))) : KeyValue(key, .double(d)))
                        } else {
                            return nil
                        }
                    }
                }
            } catch {
                return nil
            }
            return out
        }
    }

    /// A tag's value, typed when `parse_string_tags` is on (Go's ParseInt, ParseFloat, ParseBool
    /// on plain decimal text: "T" and "1e3" stay strings, as in the collector).
    static func tagValue(_ v: String, parse: Bool) -> AnyValue {
        guard parse else { return .string(v) }
        if let i = Int64(v) { return .int(i) }
        if !v.isEmpty, v.allSatisfy({ $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" }), v.contains("."), let d = Double(v) {
            return .double(d)
        }
        switch v {
        case "true", "TRUE", "True": return .bool(true)
        case "false", "FALSE", "False": return .bool(false)
        default: return .string(v)
        }
    }

    /// Resource semantic-convention attributes, moved from span tags to the resource. Decided on
    /// the bytes of the key's first dotted component, so most keys cost a length check.
    static func isResourceAttribute(_ key: String) -> Bool {
        let verdict: Bool? = key.utf8.withContiguousStorageIfAvailable { b -> Bool in
            guard let dot = b.firstIndex(of: UInt8(ascii: ".")) else { return false }
            let first = UnsafeBufferPointer(rebasing: b[..<dot])
            func eq(_ s: StaticString) -> Bool {
                s.utf8CodeUnitCount == first.count && memcmp(s.utf8Start, first.baseAddress!, first.count) == 0
            }
            switch first.count {
            case 2: return eq("os")
            case 3: return eq("k8s") || eq("gcp") || (eq("aws") && slowCheck(key))
            case 4: return eq("host") || eq("faas")
            case 5: return eq("cloud")
            case 6: return eq("device") || eq("heroku")
            case 7: return eq("process") || eq("browser") || (eq("service") && slowCheck(key))
            case 9: return eq("container") || eq("webengine") || (eq("telemetry") && slowCheck(key))
            case 10: return eq("deployment") && slowCheck(key)
            default: return false
            }
        }
        return verdict ?? slowCheck(key)
    }

    private static func slowCheck(_ key: String) -> Bool {
        resourceKeys.contains(key) || resourcePrefixes.contains { key.hasPrefix($0) }
    }

    static let resourceKeys: Set<String> = [
        "service.name", "service.namespace", "service.instance.id", "service.version",
        "deployment.environment", "deployment.environment.name",
    ]
    static let resourcePrefixes = [
        "telemetry.sdk.", "telemetry.auto.", "telemetry.distro.", "host.", "os.", "process.", "container.", "k8s.",
        "cloud.", "faas.", "device.", "webengine.", "aws.ecs.", "aws.eks.", "aws.log.", "gcp.", "heroku.", "browser.",
    ]
}
