/// Decodes an OTLP/JSON `ExportTraceServiceRequest` (or `TracesData`) straight from bytes into the
/// model. Follows the OTLP JSON encoding and is as lenient as the collector's decoder: snake_case
/// keys, enum names, numbers or strings for 64-bit integers, `null` as absent where the collector
/// allows it, unknown fields ignored, trailing bytes after the object ignored.
public enum OTLPJSONDecoder: TraceDecoder {
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(JSONDecodingError) -> TraceData {
        var d = Decoding(scanner: JSONScanner(bytes))
        return try d.decodeTraceData()
    }

    public static func decode(_ text: String) throws(JSONDecodingError) -> TraceData {
        try decode(Array(text.utf8))
    }
}

private struct Decoding: ~Copyable {
    var scanner: JSONScanner
    var keys = StringInterner.reused(slots: 256)
    var values = StringInterner.reused(slots: 512)

    deinit {
        keys.recycle()
        values.recycle()
    }

    // MARK: structure

    mutating func decodeTraceData() throws(JSONDecodingError) -> TraceData {
        var data = TraceData()
        guard try scanner.beginObject(allowNull: false) else { return data }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            if OTLPField.lookup(key) == .resourceSpans {
                try list(&data.resourceSpans, "resourceSpans") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeResourceSpans() }
            } else {
                try scanner.skipValue()
            }
        }
        return data
    }

    /// Decodes an array (or `null` = empty), adding `name[i]` to the path of any error inside.
    @inline(__always)
    mutating func list<T>(
        _ out: inout [T], _ name: String, capacity: Int = 4, _ element: (inout Decoding) throws(JSONDecodingError) -> T
    ) throws(JSONDecodingError) {
        do {
            guard try scanner.beginArray() else { return }
        } catch {
            var e = error
            e.prepend(name)
            throw e
        }
        var first = true
        while true {
            do {
                guard try scanner.nextElement(first: &first) else { return }
                if out.capacity == 0 { out.reserveCapacity(capacity) }
            } catch {
                var e = error
                e.prepend(name)
                throw e
            }
            do {
                out.append(try element(&self))
            } catch {
                var e = error
                e.prepend("\(name)[\(out.count)]")
                throw e
            }
        }
    }

    /// Runs `body` for a scalar field, adding the field name to the path of its error.
    @inline(__always)
    mutating func field<T>(_ name: String, _ body: (inout Decoding) throws(JSONDecodingError) -> T) throws(JSONDecodingError) -> T {
        do {
            return try body(&self)
        } catch {
            var e = error
            e.prepend(name)
            throw e
        }
    }

    mutating func decodeResourceSpans() throws(JSONDecodingError) -> ResourceSpans {
        var rs = ResourceSpans()
        guard try scanner.beginObject() else { return rs }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .resource:
                rs.resource = try field("resource") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeResource() }
            case .scopeSpans:
                try list(&rs.scopeSpans, "scopeSpans") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeScopeSpans() }
            case .schemaURL:
                rs.schemaURL = try field("schemaUrl") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            default:
                // Includes the deprecated `instrumentationLibrarySpans`, which the collector drops too.
                try scanner.skipValue()
            }
        }
        return rs
    }

    mutating func decodeResource() throws(JSONDecodingError) -> Resource {
        var r = Resource()
        guard try scanner.beginObject() else { return r }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .attributes:
                try list(&r.attributes, "attributes") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeKeyValue() }
            case .droppedAttributesCount:
                r.droppedAttributesCount = try field("droppedAttributesCount") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            default:
                try scanner.skipValue()
            }
        }
        return r
    }

    mutating func decodeScopeSpans() throws(JSONDecodingError) -> ScopeSpans {
        var ss = ScopeSpans()
        guard try scanner.beginObject() else { return ss }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .scope:
                ss.scope = try field("scope") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeScope() }
            case .spans:
                try list(&ss.spans, "spans", capacity: 16) { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeSpan() }
            case .schemaURL:
                ss.schemaURL = try field("schemaUrl") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            default:
                try scanner.skipValue()
            }
        }
        return ss
    }

    mutating func decodeScope() throws(JSONDecodingError) -> InstrumentationScope {
        var s = InstrumentationScope()
        guard try scanner.beginObject() else { return s }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .name: s.name = try field("name") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            case .version: s.version = try field("version") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            case .attributes:
                try list(&s.attributes, "attributes", capacity: 16) { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeKeyValue() }
            case .droppedAttributesCount:
                s.droppedAttributesCount = try field("droppedAttributesCount") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            default:
                try scanner.skipValue()
            }
        }
        return s
    }

    mutating func decodeSpan() throws(JSONDecodingError) -> Span {
        var s = Span()
        guard try scanner.beginObject() else { return s }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .traceID: s.traceID = try field("traceId") { (d: inout Decoding) throws(JSONDecodingError) in try d.traceID() }
            case .spanID: s.spanID = try field("spanId") { (d: inout Decoding) throws(JSONDecodingError) in try d.spanID() }
            case .traceState: s.traceState = try field("traceState") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            case .parentSpanID: s.parentSpanID = try field("parentSpanId") { (d: inout Decoding) throws(JSONDecodingError) in try d.spanID() }
            case .flags: s.flags = try field("flags") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            case .name: s.name = try field("name") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            case .kind:
                s.kind = SpanKind(rawValue: try field("kind") { (d: inout Decoding) throws(JSONDecodingError) in try d.enumValue(SpanKind.protoNames) })
            case .startTimeUnixNano:
                s.startTimeUnixNano = try field("startTimeUnixNano") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint64() }
            case .endTimeUnixNano:
                s.endTimeUnixNano = try field("endTimeUnixNano") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint64() }
            case .attributes:
                try list(&s.attributes, "attributes", capacity: 16) { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeKeyValue() }
            case .droppedAttributesCount:
                s.droppedAttributesCount = try field("droppedAttributesCount") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            case .events:
                try list(&s.events, "events") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeEvent() }
            case .droppedEventsCount:
                s.droppedEventsCount = try field("droppedEventsCount") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            case .links:
                try list(&s.links, "links") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeLink() }
            case .droppedLinksCount:
                s.droppedLinksCount = try field("droppedLinksCount") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            case .status:
                s.status = try field("status") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeStatus() }
            default:
                try scanner.skipValue()
            }
        }
        return s
    }

    mutating func decodeEvent() throws(JSONDecodingError) -> SpanEvent {
        var e = SpanEvent()
        guard try scanner.beginObject() else { return e }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .timeUnixNano: e.timeUnixNano = try field("timeUnixNano") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint64() }
            case .name: e.name = try field("name") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            case .attributes:
                try list(&e.attributes, "attributes") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeKeyValue() }
            case .droppedAttributesCount:
                e.droppedAttributesCount = try field("droppedAttributesCount") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            default:
                try scanner.skipValue()
            }
        }
        return e
    }

    mutating func decodeLink() throws(JSONDecodingError) -> SpanLink {
        var l = SpanLink()
        guard try scanner.beginObject() else { return l }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .traceID: l.traceID = try field("traceId") { (d: inout Decoding) throws(JSONDecodingError) in try d.traceID() }
            case .spanID: l.spanID = try field("spanId") { (d: inout Decoding) throws(JSONDecodingError) in try d.spanID() }
            case .traceState: l.traceState = try field("traceState") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            case .attributes:
                try list(&l.attributes, "attributes") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeKeyValue() }
            case .droppedAttributesCount:
                l.droppedAttributesCount = try field("droppedAttributesCount") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            case .flags: l.flags = try field("flags") { (d: inout Decoding) throws(JSONDecodingError) in try d.uint32() }
            default:
                try scanner.skipValue()
            }
        }
        return l
    }

    mutating func decodeStatus() throws(JSONDecodingError) -> SpanStatus {
        var s = SpanStatus()
        guard try scanner.beginObject() else { return s }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .message: s.message = try field("message") { (d: inout Decoding) throws(JSONDecodingError) in try d.optionalString() }
            case .code:
                s.code = StatusCode(rawValue: try field("code") { (d: inout Decoding) throws(JSONDecodingError) in try d.enumValue(StatusCode.protoNames) })
            default:
                try scanner.skipValue()
            }
        }
        return s
    }

    mutating func decodeKeyValue() throws(JSONDecodingError) -> KeyValue {
        var kv = KeyValue(key: "", value: .empty)
        guard try scanner.beginObject() else { return kv }
        var first = true
        // Nearly every producer writes {"key":…,"value":…}: take that without key matching.
        if scanner.consumeExpectedKey("key", first: &first) {
            kv.key = try field("key") { (d: inout Decoding) throws(JSONDecodingError) in
                d.scanner.consumeNull() ? "" : try d.scanner.readString(interner: &d.keys)
            }
            if scanner.consumeExpectedKey("value", first: &first) {
                kv.value = try field("value") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeAnyValue() }
            }
        }
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .key:
                kv.key = try field("key") { (d: inout Decoding) throws(JSONDecodingError) in
                    d.scanner.consumeNull() ? "" : try d.scanner.readString(interner: &d.keys)
                }
            case .value: kv.value = try field("value") { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeAnyValue() }
            default: try scanner.skipValue()
            }
        }
        return kv
    }

    /// An `AnyValue` object. With several members set, the last one wins (as in the collector).
    mutating func decodeAnyValue() throws(JSONDecodingError) -> AnyValue {
        var v = AnyValue.empty
        guard try scanner.beginObject() else { return v }
        var first = true
        if scanner.consumeExpectedKey("stringValue", first: &first) {
            v = .string(try field("stringValue") { (d: inout Decoding) throws(JSONDecodingError) in
                d.scanner.consumeNull() ? "" : try d.scanner.readString(interner: &d.values)
            })
        }
        while let key = try scanner.nextKey(first: &first) {
            switch OTLPField.lookup(key) {
            case .stringValue:
                v = .string(try field("stringValue") { (d: inout Decoding) throws(JSONDecodingError) in
                    d.scanner.consumeNull() ? "" : try d.scanner.readString(interner: &d.values)
                })
            case .boolValue:
                v = .bool(try field("boolValue") { (d: inout Decoding) throws(JSONDecodingError) in try d.bool() })
            case .intValue:
                v = .int(try field("intValue") { (d: inout Decoding) throws(JSONDecodingError) in try d.int64() })
            case .doubleValue:
                v = .double(try field("doubleValue") { (d: inout Decoding) throws(JSONDecodingError) in try d.double() })
            case .bytesValue:
                v = .bytes(try field("bytesValue") { (d: inout Decoding) throws(JSONDecodingError) in try d.base64() })
            case .arrayValue:
                var values = [AnyValue]()
                try field("arrayValue") { (d: inout Decoding) throws(JSONDecodingError) in try d.valuesWrapper(&values) { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeAnyValue() } }
                v = .array(values)
            case .kvlistValue:
                var values = [KeyValue]()
                try field("kvlistValue") { (d: inout Decoding) throws(JSONDecodingError) in try d.valuesWrapper(&values) { (d: inout Decoding) throws(JSONDecodingError) in try d.decodeKeyValue() } }
                v = .kvlist(values)
            default:
                try scanner.skipValue()
            }
        }
        return v
    }

    /// `{"values": [...]}` of ArrayValue and KeyValueList.
    mutating func valuesWrapper<T>(_ out: inout [T], _ element: (inout Decoding) throws(JSONDecodingError) -> T) throws(JSONDecodingError) {
        guard try scanner.beginObject() else { return }
        var first = true
        while let key = try scanner.nextKey(first: &first) {
            if OTLPField.lookup(key) == .values {
                try list(&out, "values", element)
            } else {
                try scanner.skipValue()
            }
        }
    }

    // MARK: scalars

    /// A string, or `null` meaning empty. Repeated ASCII strings share storage (see `StringInterner`).
    mutating func optionalString() throws(JSONDecodingError) -> String {
        if scanner.consumeNull() { return "" }
        return try scanner.readString(interner: &values)
    }

    mutating func traceID() throws(JSONDecodingError) -> TraceID {
        let raw = try scanner.readRawStringBytes()
        if raw.isEmpty { return .zero }
        guard raw.count == 32 else {
            throw JSONDecodingError("length mismatch: a trace id is 32 hex digits, got \(raw.count) characters", offset: scanner.pos - raw.count - 1)
        }
        let hi = try hex64(raw, 0)
        let lo = try hex64(raw, 16)
        return TraceID(high: hi, low: lo)
    }

    mutating func spanID() throws(JSONDecodingError) -> SpanID {
        let raw = try scanner.readRawStringBytes()
        if raw.isEmpty { return .zero }
        guard raw.count == 16 else {
            throw JSONDecodingError("length mismatch: a span id is 16 hex digits, got \(raw.count) characters", offset: scanner.pos - raw.count - 1)
        }
        return SpanID(try hex64(raw, 0))
    }

    private func hex64(_ raw: UnsafeRawBufferPointer, _ from: Int) throws(JSONDecodingError) -> UInt64 {
        var v: UInt64 = 0
        var bad: UInt8 = 0
        for k in from..<(from + 16) {
            let n = Hex.nibble(raw[k])
            bad |= n
            v = v << 4 | UInt64(n & 0x0F)
        }
        // Any invalid digit has set the high bits of `bad`; find it only on that slow path.
        if bad & 0xF0 == 0 { return v }
        for k in from..<(from + 16) {
            let n = Hex.nibble(raw[k])
            if n == 0xFF {
                let c = raw[k]
                let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
                throw JSONDecodingError("invalid hex digit \(shown) in id", offset: scanner.pos - raw.count - 1 + k)
            }
            v = v << 4 | UInt64(n)
        }
        return v
    }

    /// An int64 as a decimal string or a JSON number. `null`, fractions and exponents are errors.
    mutating func int64() throws(JSONDecodingError) -> Int64 {
        let (raw, at) = try integerToken()
        var k = 0
        var negative = false
        if raw.count > 0 && raw[0] == UInt8(ascii: "-") {
            negative = true
            k = 1
        }
        let magnitude = try digits(raw, from: k, at: at)
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw JSONDecodingError("value out of range for int64", offset: at) }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw JSONDecodingError("value out of range for int64", offset: at) }
        return Int64(magnitude)
    }

    /// A uint64/fixed64 as a decimal string or a JSON number.
    mutating func uint64() throws(JSONDecodingError) -> UInt64 {
        let (raw, at) = try integerToken()
        return try digits(raw, from: 0, at: at)
    }

    /// A uint32 (flags, dropped counts) as a number or a decimal string.
    mutating func uint32() throws(JSONDecodingError) -> UInt32 {
        if scanner.consumeNull() { return 0 }
        let (raw, at) = try integerToken()
        let v = try digits(raw, from: 0, at: at)
        guard v <= UInt64(UInt32.max) else { throw JSONDecodingError("value out of range for uint32", offset: at) }
        return UInt32(v)
    }

    /// The text of an integer given as a number or a string, with its offset.
    private mutating func integerToken() throws(JSONDecodingError) -> (UnsafeRawBufferPointer, Int) {
        scanner.skipWhitespace()
        let at = scanner.pos
        let c = scanner.peek()
        if c == UInt8(ascii: "\"") {
            return (try scanner.readRawStringBytes(), at + 1)
        }
        if c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
            let tok = scanner.numberToken()
            scanner.pos += tok.count
            return (tok, at)
        }
        if c == UInt8(ascii: "n") { throw scanner.error("expected an integer, found null") }
        throw scanner.error("expected an integer, found \(scanner.describeCurrent())")
    }

    private func digits(_ raw: UnsafeRawBufferPointer, from: Int, at: Int) throws(JSONDecodingError) -> UInt64 {
        guard raw.count > from else { throw JSONDecodingError("expected an integer, found an empty value", offset: at) }
        // Up to 19 digits cannot overflow a UInt64: no overflow checks on the common path.
        if raw.count &- from <= 19 {
            var v: UInt64 = 0
            var ok = true
            for k in from..<raw.count {
                let d = raw[k] &- UInt8(ascii: "0")
                ok = ok && d < 10
                v = v &* 10 &+ UInt64(d)
            }
            if ok { return v }
        }
        var v: UInt64 = 0
        for k in from..<raw.count {
            let c = raw[k]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else {
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    throw JSONDecodingError("expected an integer, found a fractional number", offset: at + k)
                }
                throw JSONDecodingError("expected an integer, found '\(String(decoding: raw, as: UTF8.self))'", offset: at + k)
            }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c &- UInt8(ascii: "0")))
            guard !o1 && !o2 else { throw JSONDecodingError("value out of range for a 64-bit integer", offset: at) }
            v = s
        }
        return v
    }

    mutating func double() throws(JSONDecodingError) -> Double {
        scanner.skipWhitespace()
        let at = scanner.pos
        let c = scanner.peek()
        let text: String
        if c == UInt8(ascii: "\"") {
            let raw = try scanner.readRawStringBytes()
            text = String(decoding: raw, as: UTF8.self)
            switch text {
            case "NaN": return Double(bitPattern: 0x7FF8_0000_0000_0001)  // Go's math.NaN(), so proto bytes match the collector's
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            default: break
            }
        } else if c == UInt8(ascii: "n") && scanner.consumeNull() {
            return 0
        } else {
            let tok = scanner.numberToken()
            guard tok.count > 0 else { throw scanner.error("expected a number, found \(scanner.describeCurrent())") }
            scanner.pos += tok.count
            text = String(decoding: tok, as: UTF8.self)
        }
        guard let d = Double(text), isJSONNumberSyntax(text) else {
            throw JSONDecodingError("expected a number, found '\(text)'", offset: at)
        }
        return d
    }

    /// Swift's `Double(String)` also takes hex floats and "inf"; JSON numbers are narrower.
    private func isJSONNumberSyntax(_ s: String) -> Bool {
        for u in s.utf8 {
            switch u {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                 UInt8(ascii: "e"), UInt8(ascii: "E"):
                continue
            default:
                return false
            }
        }
        return true
    }

    mutating func bool() throws(JSONDecodingError) -> Bool {
        scanner.skipWhitespace()
        if scanner.consumeLiteral("true") { return true }
        if scanner.consumeLiteral("false") { return false }
        if scanner.consumeNull() { return false }
        throw scanner.error("expected true or false, found \(scanner.describeCurrent())")
    }

    /// An enum as an integer (any int32, known or not) or as its full OTLP name.
    mutating func enumValue(_ names: [String]) throws(JSONDecodingError) -> Int32 {
        scanner.skipWhitespace()
        let at = scanner.pos
        let c = scanner.peek()
        if c == UInt8(ascii: "\"") {
            let name = try scanner.readString()
            if let i = names.firstIndex(of: name) { return Int32(i) }
            throw JSONDecodingError("unknown enum value \"\(name)\" (expected one of \(names.joined(separator: ", ")) or a number)", offset: at)
        }
        if scanner.consumeNull() { return 0 }
        let tok = scanner.numberToken()
        scanner.pos += tok.count
        var k = 0
        var negative = false
        if tok.count > 0 && tok[0] == UInt8(ascii: "-") { negative = true; k = 1 }
        let v = try digits(tok, from: k, at: at)
        guard v <= UInt64(Int32.max) + (negative ? 1 : 0) else { throw JSONDecodingError("enum value out of range", offset: at) }
        return negative ? Int32(truncatingIfNeeded: 0 &- Int64(v)) : Int32(v)
    }

    /// Standard base64 with padding (URL-safe or unpadded input is an error, as in the collector).
    mutating func base64() throws(JSONDecodingError) -> [UInt8] {
        if scanner.consumeNull() { return [] }
        let raw = try scanner.readRawStringBytes()
        let at = scanner.pos - raw.count - 1
        do {
            return try Base64.decode(raw)
        } catch {
            throw JSONDecodingError("illegal base64 data at input byte \(error.index)", offset: at + error.index)
        }
    }
}
