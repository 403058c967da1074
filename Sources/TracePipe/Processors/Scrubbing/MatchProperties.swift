import FoundationEssentials
import TraceModel

/// `include`/`exclude` of the attributes processor: which spans it acts on. Properties are
/// ANDed; within `services`, `span_names`, `span_kinds` and `libraries` any entry may match;
/// every listed `attributes`/`resources` entry must match (an entry without a value: key present).
struct MatchProperties: Decodable, Sendable {
    enum MatchType: String, ConfigEnum { case strict, regexp }

    struct Matcher: Sendable {
        let strict: String?
        let regex: RegexPattern?
        func matches(_ s: String) -> Bool { regex?.matches(s) ?? (s == strict) }
    }

    struct AttributeMatch: Sendable {
        var key: String
        var value: Matcher?
    }

    var services: [Matcher] = []
    var spanNames: [Matcher] = []
    var spanKinds: [Int32] = []
    var attributes: [AttributeMatch] = []
    var resources: [AttributeMatch] = []
    var libraries: [(name: Matcher, version: String?)] = []

    enum Keys: String, CodingKey {
        case match_type, services, span_names, span_kinds, attributes, resources, libraries, regexp
        case log_bodies, log_severity_texts, log_severity_number, metric_names
    }

    struct KeyValueEntry: Decodable {
        var key: String
        var value: ConfigNode?
    }

    struct LibraryEntry: Decodable {
        var name: String
        var version: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        guard let type = try c.decodeIfPresent(MatchType.self, forKey: .match_type) else {
            throw decoder.invalid("match_type", "required: strict or regexp")
        }
        for k in [Keys.log_bodies, .log_severity_texts, .log_severity_number, .metric_names] where c.contains(k) {
            throw decoder.invalid(k.rawValue, "\(k.rawValue) is for logs or metrics, not for a traces pipeline")
        }
        _ = try c.decodeIfPresent(ConfigNode.self, forKey: .regexp)
        func matcher(_ s: String, _ path: String) throws -> Matcher {
            guard type == .regexp else { return Matcher(strict: s, regex: nil) }
            do {
                return Matcher(strict: nil, regex: try RegexPattern(s))
            } catch {
                throw decoder.invalid(path, "\(error)")
            }
        }
        services = try (try c.value(.services, or: [String]())).map { try matcher($0, "services") }
        spanNames = try (try c.value(.span_names, or: [String]())).map { try matcher($0, "span_names") }
        spanKinds = try (try c.value(.span_kinds, or: [String]())).map { name in
            let upper = name.uppercased()
            let full = upper.hasPrefix("SPAN_KIND_") ? upper : "SPAN_KIND_" + upper
            guard let i = SpanKind.protoNames.firstIndex(of: full) else {
                throw decoder.invalid("span_kinds", "unknown span kind \"\(name)\" (e.g. SPAN_KIND_SERVER)")
            }
            return Int32(i)
        }
        func attributeMatches(_ entries: [KeyValueEntry], _ path: String) throws -> [AttributeMatch] {
            try entries.map { e in
                guard let v = e.value, !v.isNull else { return AttributeMatch(key: e.key, value: nil) }
                guard case .scalar(let s, _) = v else { throw decoder.invalid(path, "attribute values to match are strings or numbers") }
                return AttributeMatch(key: e.key, value: try matcher(s, path))
            }
        }
        attributes = try attributeMatches(try c.value(.attributes, or: []), "attributes")
        resources = try attributeMatches(try c.value(.resources, or: []), "resources")
        libraries = try (try c.value(.libraries, or: [LibraryEntry]())).map { (try matcher($0.name, "libraries"), $0.version) }
        guard !services.isEmpty || !spanNames.isEmpty || !spanKinds.isEmpty || !attributes.isEmpty || !resources.isEmpty || !libraries.isEmpty else {
            throw decoder.invalid("at least one of services, span_names, span_kinds, attributes, resources or libraries is required")
        }
    }

    func matches(_ span: Span, resource: Resource, scope: InstrumentationScope) -> Bool {
        if !services.isEmpty {
            let service = resource.attributes[attribute: "service.name"]?.stringValue ?? ""
            guard services.contains(where: { $0.matches(service) }) else { return false }
        }
        if !spanNames.isEmpty && !spanNames.contains(where: { $0.matches(span.name) }) { return false }
        if !spanKinds.isEmpty && !spanKinds.contains(span.kind.rawValue) { return false }
        if !libraries.isEmpty && !libraries.contains(where: { $0.name.matches(scope.name) && ($0.version == nil || $0.version == scope.version) }) {
            return false
        }
        for a in attributes where !Self.has(a, span.attributes) { return false }
        for r in resources where !Self.has(r, resource.attributes) { return false }
        return true
    }

    static func has(_ m: AttributeMatch, _ attrs: [KeyValue]) -> Bool {
        guard let v = attrs[attribute: m.key] else { return false }
        guard let matcher = m.value else { return true }
        return matcher.matches(AttributeActionRunner.asString(v))
    }
}
