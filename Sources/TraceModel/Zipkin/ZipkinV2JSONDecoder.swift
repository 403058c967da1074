/// Decodes a Zipkin v2 JSON body (an array of spans, zipkin-api's `ListOfSpans`).
public enum ZipkinV2JSONDecoder {
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ZipkinDecodingError) -> [ZipkinSpan] {
        var s = JSONScanner(bytes)
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
                do {
                    spans.append(try span(&s))
                } catch let e as ZipkinDecodingError {
                    throw ZipkinDecodingError("span \(spans.count): \(e.message)")
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

    static func span(_ s: inout JSONScanner) throws -> ZipkinSpan {
        var z = ZipkinSpan()
        guard try s.beginObject() else { return z }
        var first = true
        while let key = try s.nextKeyString(first: &first) {
            switch key {
            case "traceId":
                if s.consumeNull() { continue }
                let raw = try s.readRawStringBytes()
                let (h, l) = try ZipkinIDs.parse(raw, maxDigits: 32)
                z.traceID = TraceID(high: h, low: l)
            case "id":
                if s.consumeNull() { continue }
                z.id = SpanID(try ZipkinIDs.parse(try s.readRawStringBytes(), maxDigits: 16).low)
            case "parentId":
                if s.consumeNull() { continue }
                z.parentID = SpanID(try ZipkinIDs.parse(try s.readRawStringBytes(), maxDigits: 16).low)
            case "name": z.name = s.consumeNull() ? "" : try s.readString()
            case "kind": z.kind = s.consumeNull() ? "" : try s.readString()
            case "timestamp": z.timestamp = try microseconds(&s, "timestamp")
            case "duration": z.duration = try microseconds(&s, "duration")
            case "debug": z.debug = try bool(&s)
            case "shared": z.shared = try bool(&s)
            case "localEndpoint": z.localEndpoint = try endpoint(&s)
            case "remoteEndpoint": z.remoteEndpoint = try endpoint(&s)
            case "annotations":
                guard try s.beginArray() else { continue }
                var f = true
                while try s.nextElement(first: &f) { z.annotations.append(try annotation(&s)) }
            case "tags":
                guard try s.beginObject() else { continue }
                var f = true
                while let k = try s.nextKeyString(first: &f) {
                    s.skipWhitespace()
                    guard s.peek() == UInt8(ascii: "\"") else {
                        throw ZipkinDecodingError("json: cannot unmarshal a non-string into the value of tag \"\(k)\" (tag values are strings)")
                    }
                    z.tags.append((k, try s.readString()))
                }
            default:
                try s.skipValue()
            }
        }
        return z
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

    static func endpoint(_ s: inout JSONScanner) throws -> ZipkinSpan.Endpoint? {
        guard try s.beginObject() else { return nil }
        var e = ZipkinSpan.Endpoint()
        var first = true
        while let key = try s.nextKeyString(first: &first) {
            switch key {
            case "serviceName": e.serviceName = s.consumeNull() ? "" : try s.readString()
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
