/// Every field name the OTLP JSON decoder knows, in both spellings the collector accepts
/// (lowerCamelCase per the spec, snake_case as protobuf's own JSON mapping allows).
enum OTLPField: UInt8 {
    case unknown
    case resourceSpans, resource, scopeSpans, schemaURL
    case attributes, droppedAttributesCount
    case scope, spans, name, version
    case traceID, spanID, traceState, parentSpanID, flags, kind
    case startTimeUnixNano, endTimeUnixNano, events, droppedEventsCount, links, droppedLinksCount, status
    case timeUnixNano, message, code
    case key, value, values
    case stringValue, boolValue, intValue, doubleValue, arrayValue, kvlistValue, bytesValue

    /// Names by length, so a lookup compares a key with one or two candidates at most.
    private static let table: [[(name: [UInt8], field: OTLPField)]] = {
        let names: [(String, OTLPField)] = [
            ("resourceSpans", .resourceSpans), ("resource_spans", .resourceSpans),
            ("resource", .resource),
            ("scopeSpans", .scopeSpans), ("scope_spans", .scopeSpans),
            ("schemaUrl", .schemaURL), ("schema_url", .schemaURL),
            ("attributes", .attributes),
            ("droppedAttributesCount", .droppedAttributesCount), ("dropped_attributes_count", .droppedAttributesCount),
            ("scope", .scope), ("spans", .spans), ("name", .name), ("version", .version),
            ("traceId", .traceID), ("trace_id", .traceID),
            ("spanId", .spanID), ("span_id", .spanID),
            ("traceState", .traceState), ("trace_state", .traceState),
            ("parentSpanId", .parentSpanID), ("parent_span_id", .parentSpanID),
            ("flags", .flags), ("kind", .kind),
            ("startTimeUnixNano", .startTimeUnixNano), ("start_time_unix_nano", .startTimeUnixNano),
            ("endTimeUnixNano", .endTimeUnixNano), ("end_time_unix_nano", .endTimeUnixNano),
            ("events", .events),
            ("droppedEventsCount", .droppedEventsCount), ("dropped_events_count", .droppedEventsCount),
            ("links", .links),
            ("droppedLinksCount", .droppedLinksCount), ("dropped_links_count", .droppedLinksCount),
            ("status", .status),
            ("timeUnixNano", .timeUnixNano), ("time_unix_nano", .timeUnixNano),
            ("message", .message), ("code", .code),
            ("key", .key), ("value", .value), ("values", .values),
            ("stringValue", .stringValue), ("string_value", .stringValue),
            ("boolValue", .boolValue), ("bool_value", .boolValue),
            ("intValue", .intValue), ("int_value", .intValue),
            ("doubleValue", .doubleValue), ("double_value", .doubleValue),
            ("arrayValue", .arrayValue), ("array_value", .arrayValue),
            ("kvlistValue", .kvlistValue), ("kvlist_value", .kvlistValue),
            ("bytesValue", .bytesValue), ("bytes_value", .bytesValue),
        ]
        var t = [[(name: [UInt8], field: OTLPField)]](repeating: [], count: 33)
        for (n, f) in names {
            let bytes = Array(n.utf8)
            t[bytes.count].append((bytes, f))
        }
        return t
    }()

    @inline(__always)
    static func lookup(_ key: UnsafeRawBufferPointer) -> OTLPField {
        let n = key.count
        guard n > 0 && n < table.count else { return .unknown }
        let bucket = table[n]
        for i in 0..<bucket.count {
            let cand = bucket[i]
            var k = 0
            while k < n && cand.name[k] == key[k] { k &+= 1 }
            if k == n { return cand.field }
        }
        return .unknown
    }
}
