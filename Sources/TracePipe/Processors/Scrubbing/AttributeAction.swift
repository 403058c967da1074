import FoundationEssentials
import TraceModel

/// One entry of an `attributes`/`resource` processor's `actions` list, validated.
public struct AttributeAction: Sendable {
    public enum Kind: String, Sendable { case insert, update, upsert, delete, hash, extract, convert }
    public enum Source: Sendable {
        case value(AnyValue)
        case fromAttribute(String)
        case fromContext(String)
    }

    public var kind: Kind
    public var key: String?
    public var source: Source?
    public var defaultValue: AnyValue?
    var pattern: RegexPattern?
    public var convertedType: String?
}

extension AttributeAction: Decodable {
    enum Keys: String, CodingKey { case key, action, value, from_attribute, from_context, default_value, pattern, converted_type }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let actionText = try c.value(.action, or: "").lowercased()
        guard let k = Kind(rawValue: actionText) else {
            throw decoder.invalid("action", actionText.isEmpty ? "required: one of insert, update, upsert, delete, hash, extract, convert"
                : "unknown action \"\(actionText)\" (expected insert, update, upsert, delete, hash, extract or convert)")
        }
        kind = k
        key = try c.decodeIfPresent(String.self, forKey: .key).flatMap { $0.isEmpty ? nil : $0 }
        let value = c.contains(.value) ? try c.decodeIfPresent(ConfigNode.self, forKey: .value) : nil
        let fromAttribute = try c.decodeIfPresent(String.self, forKey: .from_attribute).flatMap { $0.isEmpty ? nil : $0 }
        let fromContext = try c.decodeIfPresent(String.self, forKey: .from_context).flatMap { $0.isEmpty ? nil : $0 }
        defaultValue = c.contains(.default_value) ? try c.decodeIfPresent(ConfigNode.self, forKey: .default_value)?.attributeValue : nil
        if let p = try c.decodeIfPresent(String.self, forKey: .pattern), !p.isEmpty {
            do {
                pattern = try RegexPattern(p)
            } catch {
                throw decoder.invalid("pattern", "\(error)")
            }
        }
        convertedType = try c.decodeIfPresent(String.self, forKey: .converted_type)
        let sources = [value != nil, fromAttribute != nil, fromContext != nil].filter { $0 }.count
        switch k {
        case .insert, .update, .upsert:
            guard key != nil else { throw decoder.invalid("key", "missing key for the \(k.rawValue) action") }
            guard sources == 1 || (sources == 0 && defaultValue != nil) else {
                throw decoder.invalid("set exactly one of value, from_attribute or from_context for the \(k.rawValue) action")
            }
            if let v = value { source = .value(v.attributeValue) }
            if let f = fromAttribute { source = .fromAttribute(f) }
            if let f = fromContext { source = .fromContext(f) }
        case .delete, .hash:
            guard key != nil || pattern != nil else { throw decoder.invalid("key", "the \(k.rawValue) action needs a key or a pattern") }
        case .extract:
            guard key != nil else { throw decoder.invalid("key", "missing key for the extract action") }
            guard let p = pattern else { throw decoder.invalid("pattern", "the extract action needs a pattern with named groups") }
            guard !p.native.groupNames.isEmpty else {
                throw decoder.invalid("pattern", "the extract pattern has no named groups (?P<name>…)")
            }
        case .convert:
            guard key != nil else { throw decoder.invalid("key", "missing key for the convert action") }
            guard let t = convertedType, ["int", "double", "string"].contains(t) else {
                throw decoder.invalid("converted_type", "expected int, double or string, got \"\(convertedType ?? "")\"")
            }
        }
    }
}
