/// Decodes a Zipkin v2 JSON body (an array of spans, zipkin-api's `ListOfSpans`).
public enum ZipkinV2JSONDecoder {
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ZipkinDecodingError) -> [ZipkinSpan] {
        var s = JSONScanner(bytes)
        var strings = ZipkinStrings()
        do {
            s.skipWhitespace()
            if s.atEnd { throw ZipkinDecodingError("unexpected end of JSON input") }
            if s.peek() == UInt8(ascii: "{") {
                throw ZipkinDecodingError("json: cannot unmarshal object into Go value of type []*model.SpanModel (a Zipkin v2 body is a JSON array of spans)")
            }
            var spans: [ZipkinSpan] = []
            guard try s.beginArray() else { return [] }
            var first = true
            while try s.nextElement(first: &first) {
                let index = spans.count
                do {
                    // Decoded in place: a span built in a local and returned was copied.
                    spans.append(ZipkinSpan())
                    try span(&s, &strings, into: &spans[index])
                } catch let e as ZipkinDecodingError {
                    throw ZipkinDecodingError("span \(index): \(e.message)")
                }
            }
            for (i, sp) in spans.enumerated() where sp.id.isZero {
                throw ZipkinDecodingError("span \(i): valid span id required")
            }
            return spans
        } catch let e as ZipkinDecodingError {
            throw e
        } catch let e as JSONDecodingError {
            throw ZipkinDecodingError(e.reason.hasPrefix("expected") && e.offset >= bytes.count ? "unexpected end of JSON input" : "\(e)")
        } catch {
            throw ZipkinDecodingError("\(error)")
        }
    }

    static func span(_ s: inout JSONScanner, _ strings: inout ZipkinStrings, into z: inout ZipkinSpan) throws {
        guard try s.beginObject() else { return }
        var first = true
        while let raw = try s.nextKey(first: &first) {
            switch ZipkinField.lookup(raw) {
            case .traceId:
                if s.consumeNull() { continue }
                let raw = try s.readRawStringBytes()
                let (h, l) = try ZipkinIDs.parse(raw, maxDigits: 32)
                z.traceID = TraceID(high: h, low: l)
            case .id:
                if s.consumeNull() { continue }
                z.id = SpanID(try ZipkinIDs.parse(try s.readRawStringBytes(), maxDigits: 16).low)
            case .parentId:
                if s.consumeNull() { continue }
                z.parentID = SpanID(try ZipkinIDs.parse(try s.readRawStringBytes(), maxDigits: 16).low)
            case .name: z.name = s.consumeNull() ? "" : try s.readString(interner: &strings.values!)
            case .kind: z.kind = s.consumeNull() ? "" : try s.readString()
            case .timestamp: z.timestamp = try microseconds(&s, "timestamp")
            case .duration: z.duration = try microseconds(&s, "duration")
            case .debug: z.debug = try bool(&s)
            case .shared: z.shared = try bool(&s)
            case .localEndpoint: z.localEndpoint = try endpoint(&s, &strings)
            case .remoteEndpoint: z.remoteEndpoint = try endpoint(&s, &strings)
            case .annotations:
                guard try s.beginArray() else { continue }
                var f = true
                while try s.nextElement(first: &f) { z.annotations.append(try annotation(&s)) }
            case .tags:
                guard try s.beginObject() else { continue }
                var f = true
                if z.tags.capacity == 0 { z.tags.reserveCapacity(16) }
                while let k = try s.nextKeyString(first: &f, interner: &strings.keys) {
                    s.skipWhitespace()
                    guard s.peek() == UInt8(ascii: "\"") else {
                        throw ZipkinDecodingError("json: cannot unmarshal a non-string into the value of tag \"\(k)\" (tag values are strings)")
                    }
                    z.tags.append((k, try s.readString(interner: &strings.values!)))
                }
            default:
                try s.skipValue()
            }
        }
    }

    static func microseconds(_ s: inout JSONScanner, _ field: String) throws -> UInt64? {
        if s.consumeNull() { return nil }
        s.skipWhitespace()
        if s.peek() == UInt8(ascii: "\"") {
            throw ZipkinDecodingError("json: cannot unmarshal string into Go struct field .\(field) of type uint64")
        }
        let tok = s.numberToken()
        s.pos += tok.count
        let text = String(decoding: tok, as: UTF8.self)
        if let v = UInt64(text) { return v }
        if let d = Double(text), d >= 0, d < 1.8e19, d == d.rounded() { return UInt64(d) }
        throw ZipkinDecodingError("json: cannot unmarshal number \(text) into Go struct field .\(field) of type uint64")
    }

    static func bool(_ s: inout JSONScanner) throws -> Bool {
        s.skipWhitespace()
        if s.consumeLiteral("true") { return true }
        if s.consumeLiteral("false") || s.consumeNull() { return false }
        throw ZipkinDecodingError("expected true or false")
    }

    static func endpoint(_ s: inout JSONScanner, _ strings: inout ZipkinStrings) throws -> ZipkinSpan.Endpoint? {
        guard try s.beginObject() else { return nil }
        var e = ZipkinSpan.Endpoint()
        var first = true
        while let key = try s.nextKeyString(first: &first) {
            switch key {
            case "serviceName": e.serviceName = s.consumeNull() ? "" : try s.readString(interner: &strings.values!)
            case "ipv4": e.ipv4 = s.consumeNull() ? "" : try s.readString()
            case "ipv6": e.ipv6 = s.consumeNull() ? "" : try s.readString()
            case "port":
                if s.consumeNull() { continue }
                let tok = s.numberToken()
                s.pos += tok.count
                guard let p = Int(String(decoding: tok, as: UTF8.self)), (0...65535).contains(p) else {
                    throw ZipkinDecodingError("endpoint port must be a number 0-65535")
                }
                e.port = p
            default:
                try s.skipValue()
            }
        }
        return e
    }

    static func annotation(_ s: inout JSONScanner) throws -> ZipkinSpan.Annotation {
        var a = ZipkinSpan.Annotation(timestamp: 0, value: "")
        guard try s.beginObject() else { return a }
        var first = true
        while let key = try s.nextKeyString(first: &first) {
            switch key {
            case "timestamp": a.timestamp = try microseconds(&s, "timestamp") ?? 0
            case "value": a.value = s.consumeNull() ? "" : try s.readString()
            default: try s.skipValue()
            }
        }
        return a
    }
}

/// Repeated strings of Zipkin bodies (tag keys, service names, values), shared; the tables go back
/// to the pool when the decode ends.
struct ZipkinStrings: ~Copyable {
    var keys: StringInterner? = StringInterner.reused(slots: 256)
    var values: StringInterner? = StringInterner.reused(slots: 512)

    deinit {
        keys?.recycle()
        values?.recycle()
    }
}

/// The Zipkin v2 span fields, matched on raw key bytes (no String per key).
enum ZipkinField {
    case traceId, id, parentId, name, kind, timestamp, duration, debug, shared, localEndpoint, remoteEndpoint, annotations, tags
    case unknown

    @inline(__always)
    static func lookup(_ k: UnsafeRawBufferPointer) -> ZipkinField {
        func eq(_ s: StaticString) -> Bool {
            guard s.utf8CodeUnitCount == k.count else { return false }
            let p = s.utf8Start
            for i in 0..<k.count where k[i] != p[i] { return false }
            return true
        }
        switch k.count {
        case 2: return eq("id") ? .id : .unknown
        case 4: return eq("name") ? .name : eq("kind") ? .kind : eq("tags") ? .tags : .unknown
        case 5: return eq("debug") ? .debug : .unknown
        case 6: return eq("shared") ? .shared : .unknown
        case 7: return eq("traceId") ? .traceId : .unknown
        case 8: return eq("parentId") ? .parentId : eq("duration") ? .duration : .unknown
        case 9: return eq("timestamp") ? .timestamp : .unknown
        case 11: return eq("annotations") ? .annotations : .unknown
        case 13: return eq("localEndpoint") ? .localEndpoint : .unknown
        case 14: return eq("remoteEndpoint") ? .remoteEndpoint : .unknown
        default: return .unknown
        }
    }
}
