import FoundationEssentials
import TraceModel
import Yams

/// A parsed YAML value, independent of Yams, with the line it came from for error messages.
/// Mappings keep their key order so that errors and actions come out in file order.
public indirect enum ConfigNode: Sendable, Equatable {
    case null
    /// A scalar's text; `quoted` when the YAML had it in quotes (it is then always a string).
    case scalar(String, quoted: Bool = false)
    case mapping([(key: String, value: ConfigNode)])
    case sequence([ConfigNode])

    public static func == (a: ConfigNode, b: ConfigNode) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.scalar(x, _), .scalar(y, _)): return x == y
        case let (.sequence(x), .sequence(y)): return x == y
        case let (.mapping(x), .mapping(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public subscript(key: String) -> ConfigNode? {
        guard case .mapping(let pairs) = self else { return nil }
        return pairs.last(where: { $0.key == key })?.value
    }

    public var mappingPairs: [(key: String, value: ConfigNode)]? {
        if case .mapping(let p) = self { return p }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short description of the node's kind for "expected X, got Y" messages.
    public var kindDescription: String {
        switch self {
        case .null: return "nothing"
        case .scalar(let s, _): return "\"\(s)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// Replaces (or adds) the value at `key` of a mapping.
    public mutating func set(_ key: String, _ value: ConfigNode) {
        guard case .mapping(var pairs) = self else {
            self = .mapping([(key, value)])
            return
        }
        if let i = pairs.firstIndex(where: { $0.key == key }) {
            pairs[i].value = value
        } else {
            pairs.append((key, value))
        }
        self = .mapping(pairs)
    }

    public mutating func remove(_ key: String) {
        guard case .mapping(var pairs) = self else { return }
        pairs.removeAll { $0.key == key }
        self = .mapping(pairs)
    }

    /// Deep merge as the collector does for several `--config` files: maps merge key by key,
    /// anything else (lists included) is replaced by the later value.
    public func merged(with later: ConfigNode) -> ConfigNode {
        guard case .mapping(let base) = self, case .mapping(let over) = later else { return later }
        var result = ConfigNode.mapping(base)
        for (k, v) in over {
            if let existing = result[k] {
                result.set(k, existing.merged(with: v))
            } else {
                result.set(k, v)
            }
        }
        return result
    }
}

/// A YAML document could not be read.
public struct YAMLSyntaxError: Error, CustomStringConvertible {
    public var source: String
    public var message: String
    public var description: String { "\(source): invalid YAML: \(message)" }
}

extension ConfigNode {
    /// Parses one YAML document. Keys must be scalars; aliases are resolved by Yams.
    public static func parse(yaml: String, source: String) throws -> ConfigNode {
        let root: Node?
        do {
            // No implicit tags: scalars are typed where they are read (below and in the
            // decoder). The default resolver compiles seven ICU regular expressions and runs
            // them on every plain scalar, which also kept ICU's code and data resident.
            root = try Yams.compose(yaml: yaml, .basic)
        } catch {
            throw YAMLSyntaxError(source: source, message: "\(error)")
        }
        guard let root else { return .null }
        return try convert(root, source: source)
    }

    private static func convert(_ node: Node, source: String) throws -> ConfigNode {
        switch node {
        case .scalar(let s):
            // Plain `~`, `null` and empty mean null (YAML core schema); quoted ones are strings.
            if s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string) { return .null }
            return .scalar(s.string, quoted: s.style != .plain)
        case .mapping(let m):
            var pairs: [(key: String, value: ConfigNode)] = []
            var explicit = Set<String>()
            for (k, _) in m {
                if case .scalar(let ks) = k, !isMergeKey(ks) { explicit.insert(ks.string) }
            }
            for (k, v) in m {
                guard case .scalar(let ks) = k else {
                    let line = k.mark.map { " at line \($0.line)" } ?? ""
                    throw YAMLSyntaxError(source: source, message: "mapping keys must be plain strings\(line)")
                }
                let value = try convert(v, source: source)
                if isMergeKey(ks) {
                    // YAML merge key (`<<: *defaults`), as go-yaml reads it for the collector: the
                    // keys of the mapping (or of each mapping of a list, the first one winning)
                    // that this mapping does not set itself.
                    let sources: [ConfigNode]
                    switch value {
                    case .mapping: sources = [value]
                    case .sequence(let items) where items.allSatisfy({ $0.mappingPairs != nil }): sources = items
                    default:
                        let line = k.mark.map { " at line \($0.line)" } ?? ""
                        throw YAMLSyntaxError(source: source, message: "the merge key << needs a mapping or a list of mappings\(line), got \(value.kindDescription)")
                    }
                    for (mk, mv) in sources.flatMap({ $0.mappingPairs ?? [] })
                    where !explicit.contains(mk) && !pairs.contains(where: { $0.key == mk }) {
                        pairs.append((mk, mv))
                    }
                    continue
                }
                // A repeated key: the later one wins, as in go-yaml's merge into a map.
                pairs.removeAll { $0.key == ks.string }
                pairs.append((ks.string, value))
            }
            return .mapping(pairs)
        case .sequence(let seq):
            return .sequence(try seq.map { try convert($0, source: source) })
        case .alias:
            throw YAMLSyntaxError(source: source, message: "unresolved YAML alias")
        }
    }

    private static func isMergeKey(_ key: Node.Scalar) -> Bool {
        key.style == .plain && key.string == "<<"
    }
}

extension ConfigNode {
    /// The node as an attribute value, typed as YAML types it: plain `7` is an int, `"7"` a
    /// string, `1.5` a double, `true` a bool, lists and mappings become arrays and maps.
    public var attributeValue: AnyValue {
        switch self {
        case .null:
            return .empty
        case .scalar(let s, let quoted):
            if quoted { return .string(s) }
            switch s {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            case ".inf", ".Inf", ".INF", "+.inf": return .double(.infinity)
            case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
            case ".nan", ".NaN", ".NAN": return .double(.nan)
            default: break
            }
            if YAMLNumberSyntax.isInteger(s), let i = Int64(s) { return .int(i) }
            if YAMLNumberSyntax.isHexInteger(s), let i = Int64(s.dropFirst(2), radix: 16) { return .int(i) }
            if YAMLNumberSyntax.isFloat(s), let d = Double(s) { return .double(d) }
            return .string(s)
        case .sequence(let items):
            return .array(items.map(\.attributeValue))
        case .mapping(let pairs):
            return .kvlist(pairs.map { KeyValue($0.key, $0.value.attributeValue) })
        }
    }
}

/// The plain scalars YAML's core schema reads as numbers, checked byte by byte (a regular
/// expression here would load ICU at every start, for nothing).
enum YAMLNumberSyntax {
    private static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// `[-+]?[0-9]+`
    static func isInteger(_ s: String) -> Bool {
        var u = Substring(s).utf8[...]
        if let f = u.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { u = u.dropFirst() }
        return !u.isEmpty && u.allSatisfy(isDigit)
    }

    /// `0x[0-9a-fA-F]+`
    static func isHexInteger(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count > 2, u[0] == UInt8(ascii: "0"), u[1] == UInt8(ascii: "x") else { return false }
        return u[2...].allSatisfy { isDigit($0) || ($0 | 0x20) &- 0x61 < 6 }
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    static func isFloat(_ s: String) -> Bool {
        let u = Array(s.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < u.count, isDigit(u[i]) { i += 1 }
            return i - start
        }
        if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return false }
        } else {
            guard digits() > 0 else { return false }
            if i < u.count, u[i] == UInt8(ascii: ".") {
                i += 1
                _ = digits()
            }
        }
        if i < u.count, u[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == u.count
    }
}
