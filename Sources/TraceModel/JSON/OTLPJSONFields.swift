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

    /// Dispatches on the length first so a key is compared with at most a few candidates, with
    /// no tables to initialise or reference-count on the hot path.
    @inline(__always)
    static func lookup(_ key: UnsafeRawBufferPointer) -> OTLPField {
        switch key.count {
        case 3:
            if equal(key, "key") { return .key }
        case 4:
            if equal(key, "name") { return .name }
            if equal(key, "kind") { return .kind }
            if equal(key, "code") { return .code }
        case 5:
            if equal(key, "scope") { return .scope }
            if equal(key, "spans") { return .spans }
            if equal(key, "flags") { return .flags }
            if equal(key, "links") { return .links }
            if equal(key, "value") { return .value }
        case 6:
            if equal(key, "spanId") { return .spanID }
            if equal(key, "events") { return .events }
            if equal(key, "status") { return .status }
            if equal(key, "values") { return .values }
        case 7:
            if equal(key, "version") { return .version }
            if equal(key, "traceId") { return .traceID }
            if equal(key, "span_id") { return .spanID }
            if equal(key, "message") { return .message }
        case 8:
            if equal(key, "resource") { return .resource }
            if equal(key, "trace_id") { return .traceID }
            if equal(key, "intValue") { return .intValue }
        case 9:
            if equal(key, "schemaUrl") { return .schemaURL }
            if equal(key, "boolValue") { return .boolValue }
            if equal(key, "int_value") { return .intValue }
        case 10:
            if equal(key, "scopeSpans") { return .scopeSpans }
            if equal(key, "schema_url") { return .schemaURL }
            if equal(key, "attributes") { return .attributes }
            if equal(key, "traceState") { return .traceState }
            if equal(key, "bool_value") { return .boolValue }
            if equal(key, "arrayValue") { return .arrayValue }
            if equal(key, "bytesValue") { return .bytesValue }
        case 11:
            if equal(key, "scope_spans") { return .scopeSpans }
            if equal(key, "trace_state") { return .traceState }
            if equal(key, "stringValue") { return .stringValue }
            if equal(key, "doubleValue") { return .doubleValue }
            if equal(key, "array_value") { return .arrayValue }
            if equal(key, "kvlistValue") { return .kvlistValue }
            if equal(key, "bytes_value") { return .bytesValue }
        case 12:
            if equal(key, "parentSpanId") { return .parentSpanID }
            if equal(key, "timeUnixNano") { return .timeUnixNano }
            if equal(key, "string_value") { return .stringValue }
            if equal(key, "double_value") { return .doubleValue }
            if equal(key, "kvlist_value") { return .kvlistValue }
        case 13:
            if equal(key, "resourceSpans") { return .resourceSpans }
        case 14:
            if equal(key, "resource_spans") { return .resourceSpans }
            if equal(key, "parent_span_id") { return .parentSpanID }
            if equal(key, "time_unix_nano") { return .timeUnixNano }
        case 15:
            if equal(key, "endTimeUnixNano") { return .endTimeUnixNano }
        case 17:
            if equal(key, "startTimeUnixNano") { return .startTimeUnixNano }
            if equal(key, "droppedLinksCount") { return .droppedLinksCount }
        case 18:
            if equal(key, "end_time_unix_nano") { return .endTimeUnixNano }
            if equal(key, "droppedEventsCount") { return .droppedEventsCount }
        case 19:
            if equal(key, "dropped_links_count") { return .droppedLinksCount }
        case 20:
            if equal(key, "start_time_unix_nano") { return .startTimeUnixNano }
            if equal(key, "dropped_events_count") { return .droppedEventsCount }
        case 22:
            if equal(key, "droppedAttributesCount") { return .droppedAttributesCount }
        case 24:
            if equal(key, "dropped_attributes_count") { return .droppedAttributesCount }
        default:
            break
        }
        return .unknown
    }

    @inline(__always)
    private static func equal(_ key: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
        let p = name.utf8Start
        for i in 0..<name.utf8CodeUnitCount where key[i] != p[i] { return false }
        return true
    }
}
