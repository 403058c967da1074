/// Decodes a Zipkin v1 JSON body and converts it to the v2 model the way the collector does:
/// kind and timing from the core annotations (cs/cr, sr/ss, ms/mr), the service and the
/// `ipv4`/`port` resource attributes from their endpoint, `lc` → `component`, `error` → status.
public enum ZipkinV1JSONDecoder {
    struct V1Annotation {
        var timestamp: UInt64
        var value: String
        var endpoint: ZipkinSpan.Endpoint?
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ZipkinDecodingError) -> [ZipkinSpan] {
        var s = JSONScanner(bytes)
        var strings = ZipkinStrings()
        do {
            s.skipWhitespace()
            if s.atEnd { throw ZipkinDecodingError("zipkinv1: unexpected end of JSON input") }
            var out: [ZipkinSpan] = []
            guard try s.beginArray() else { return [] }
            var first = true
            while try s.nextElement(first: &first) {
                out.append(try span(&s, index: out.count, &strings))
            }
            return out
        } catch let e as ZipkinDecodingError {
            throw e
        } catch let e as JSONDecodingError {
            throw ZipkinDecodingError("zipkinv1: " + (e.offset >= bytes.count ? "unexpected end of JSON input" : "\(e)"))
        } catch {
            throw ZipkinDecodingError("zipkinv1: \(error)")
        }
    }

    static func span(_ s: inout JSONScanner, index: Int, _ strings: inout ZipkinStrings) throws -> ZipkinSpan {
        var z = ZipkinSpan()
        var annotations: [V1Annotation] = []
        var binary: [(key: String, value: String, endpoint: ZipkinSpan.Endpoint?)] = []
        guard try s.beginObject() else { return z }
        var first = true
        while let key = try s.nextKeyString(first: &first) {
            switch key {
            case "traceId":
                if s.consumeNull() { continue }
                let (h, l) = try ZipkinIDs.parse(try s.readRawStringBytes(), maxDigits: 32)
                z.traceID = TraceID(high: h, low: l)
            case "id":
                if s.consumeNull() { continue }
                z.id = SpanID(try ZipkinIDs.parse(try s.readRawStringBytes(), maxDigits: 16).low)
            case "parentId":
                if s.consumeNull() { continue }
                z.parentID = SpanID(try ZipkinIDs.parse(try s.readRawStringBytes(), maxDigits: 16).low)
            case "name": z.name = s.consumeNull() ? "" : try s.readString()
            case "timestamp": z.timestamp = try ZipkinV2JSONDecoder.microseconds(&s, "timestamp")
            case "duration": z.duration = try ZipkinV2JSONDecoder.microseconds(&s, "duration")
            case "debug": z.debug = try ZipkinV2JSONDecoder.bool(&s)
            case "annotations":
                guard try s.beginArray() else { continue }
                var f = true
                while try s.nextElement(first: &f) {
                    guard try s.beginObject() else { continue }
                    var a = V1Annotation(timestamp: 0, value: "", endpoint: nil)
                    var f2 = true
                    while let k = try s.nextKeyString(first: &f2) {
                        switch k {
                        case "timestamp": a.timestamp = try ZipkinV2JSONDecoder.microseconds(&s, "timestamp") ?? 0
                        case "value": a.value = s.consumeNull() ? "" : try s.readString()
                        case "endpoint": a.endpoint = try ZipkinV2JSONDecoder.endpoint(&s, &strings)
                        default: try s.skipValue()
                        }
                    }
                    annotations.append(a)
                }
            case "binaryAnnotations":
                guard try s.beginArray() else { continue }
                var f = true
                var i = 0
                while try s.nextElement(first: &f) {
                    guard try s.beginObject() else { continue }
                    var b: (key: String, value: String, endpoint: ZipkinSpan.Endpoint?) = ("", "", nil)
                    var f2 = true
                    while let k = try s.nextKeyString(first: &f2) {
                        switch k {
                        case "key": b.key = s.consumeNull() ? "" : try s.readString()
                        case "value":
                            s.skipWhitespace()
                            guard s.peek() == UInt8(ascii: "\"") else {
                                let kind = s.peek() == UInt8(ascii: "t") || s.peek() == UInt8(ascii: "f") ? "bool" : "number"
                                throw ZipkinDecodingError("zipkinv1: json: cannot unmarshal \(kind) into Go struct field .\(index).binaryAnnotations.\(i).value of type string")
                            }
                            b.value = try s.readString()
                        case "endpoint": b.endpoint = try ZipkinV2JSONDecoder.endpoint(&s, &strings)
                        default: try s.skipValue()
                        }
                    }
                    binary.append(b)
                    i += 1
                }
            default:
                try s.skipValue()
            }
        }
        guard !z.id.isZero else { throw ZipkinDecodingError("zipkinv1: span \(index): valid span id required") }
        convert(&z, annotations: annotations, binary: binary)
        return z
    }

    /// Core annotations give kind, timing and the local endpoint; the rest become events and tags.
    static func convert(_ z: inout ZipkinSpan, annotations: [V1Annotation], binary: [(key: String, value: String, endpoint: ZipkinSpan.Endpoint?)]) {
        var start: UInt64?
        var end: UInt64?
        var local: ZipkinSpan.Endpoint?
        for a in annotations {
            switch a.value {
            case "cs", "sr", "ms", "mr":
                z.kind = a.value == "cs" ? "CLIENT" : a.value == "sr" ? "SERVER" : a.value == "ms" ? "PRODUCER" : "CONSUMER"
                start = a.timestamp
                if local == nil { local = a.endpoint }
            case "cr", "ss":
                end = a.timestamp
                if local == nil { local = a.endpoint }
            default:
                z.annotations.append(ZipkinSpan.Annotation(timestamp: a.timestamp, value: a.value))
            }
        }
        if z.timestamp == nil, let s = start {
            z.timestamp = s
            if z.duration == nil, let e = end, e >= s { z.duration = e - s }
        }
        if let l = local {
            z.localEndpoint = ZipkinSpan.Endpoint()
            z.localEndpoint?.serviceName = l.serviceName
            if !l.ip.isEmpty { z.extraResource.append(KeyValue("ipv4", .string(l.ip))) }
            if l.port != 0 { z.extraResource.append(KeyValue("port", .string(String(l.port)))) }
        }
        for b in binary {
            switch b.key {
            case "lc":
                if z.localEndpoint == nil, let e = b.endpoint {
                    z.localEndpoint = ZipkinSpan.Endpoint()
                    z.localEndpoint?.serviceName = e.serviceName
                }
                z.tags.append(("component", b.value))
            case "error":
                // v1: an error annotation marks the span as failed and is not kept as a tag.
                z.tags.append(("error", "true"))
            default:
                z.tags.append((b.key, b.value))
            }
        }
        if z.localEndpoint == nil || z.localEndpoint?.serviceName.isEmpty == true {
            z.serviceNameFallback = "unknown-service"
        }
    }
}
