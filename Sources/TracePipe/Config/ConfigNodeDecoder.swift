import FoundationEssentials

/// Collects what a config decode found besides hard errors: keys present but never read
/// (unknown keys), pieces tracepipe does not support, and warnings.
final class ConfigDiagnostics {
    final class KeyedAccess {
        let path: [any CodingKey]
        let keys: [String]
        var used: Set<String> = []
        init(path: [any CodingKey], keys: [String]) {
            self.path = path
            self.keys = keys
        }
    }

    var accesses: [KeyedAccess] = []
    var unsupported: [ConfigError] = []
    var warnings: [String] = []

    /// Unknown keys: present in a mapping that was decoded but never asked for. Several readers
    /// may share one mapping (an exporter's own keys and the exporter helper's), so a key counts
    /// as known if any of them read it.
    func unknownKeyErrors() -> [ConfigError] {
        var usedByPath: [String: Set<String>] = [:]
        for a in accesses { usedByPath[ConfigPath.format(a.path), default: []].formUnion(a.used) }
        var out: [ConfigError] = []
        var seen = Set<String>()
        for a in accesses {
            let used = usedByPath[ConfigPath.format(a.path)] ?? []
            for k in a.keys where !used.contains(k) {
                let p = ConfigPath.format(a.path + [ConfigKey(k)])
                if seen.insert(p).inserted {
                    out.append(ConfigError(path: p, "unknown key \"\(k)\"\(ConfigPath.suggestion(for: k, among: Array(used)))"))
                }
            }
        }
        return out
    }
}

/// A coding key for arbitrary strings and list indices.
struct ConfigKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.intValue = intValue
        stringValue = "\(intValue)"
    }
}

enum ConfigPath {
    /// `receivers.otlp.protocols.http.endpoint`, with list indices as `[0]`.
    static func format(_ path: [any CodingKey]) -> String {
        var s = ""
        for k in path {
            if let i = k.intValue {
                s += "[\(i)]"
            } else {
                s += s.isEmpty ? k.stringValue : "." + k.stringValue
            }
        }
        return s
    }

    /// ` (did you mean "x"?)` when a known key is one or two edits away.
    static func suggestion(for key: String, among known: [String]) -> String {
        let best = known.map { ($0, editDistance($0, key)) }.min { $0.1 < $1.1 }
        if let best, best.1 <= 2, best.1 < key.count { return " (did you mean \"\(best.0)\"?)" }
        return ""
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}

/// A `Decoder` over a `ConfigNode` with the collector's "weakly typed" conversions (a quoted
/// "10" is a fine integer), `null` meaning "use the default", and errors that carry the key path.
struct ConfigNodeDecoder: Decoder {
    let node: ConfigNode
    let codingPath: [any CodingKey]
    let diagnostics: ConfigDiagnostics
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    var pathString: String { ConfigPath.format(codingPath) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let pairs: [(key: String, value: ConfigNode)]
        switch node {
        case .mapping(let p): pairs = p
        case .null: pairs = []
        default: throw ConfigError(path: pathString, "expected a mapping, got \(node.kindDescription)")
        }
        let access = ConfigDiagnostics.KeyedAccess(path: codingPath, keys: pairs.map(\.key))
        diagnostics.accesses.append(access)
        return KeyedDecodingContainer(KeyedContainer<Key>(pairs: pairs, access: access, decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch node {
        case .sequence(let items): return UnkeyedContainer(items: items, decoder: self)
        case .null: return UnkeyedContainer(items: [], decoder: self)
        default: throw ConfigError(path: pathString, "expected a list, got \(node.kindDescription)")
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(decoder: self)
    }

    func child(_ node: ConfigNode, _ key: any CodingKey) -> ConfigNodeDecoder {
        ConfigNodeDecoder(node: node, codingPath: codingPath + [key], diagnostics: diagnostics)
    }

    // MARK: scalar conversions

    func text() throws -> String {
        switch node {
        case .scalar(let s, _): return s
        case .null: return ""
        default: throw ConfigError(path: pathString, "expected a string, got \(node.kindDescription)")
        }
    }

    func bool() throws -> Bool {
        let s = try text()
        switch s {
        case "true", "True", "TRUE", "t", "T", "1": return true
        case "false", "False", "FALSE", "f", "F", "0": return false
        default: throw ConfigError(path: pathString, "expected true or false, got \"\(s)\"")
        }
    }

    func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        let s = try text().trimmingSpaces()
        if let v = T(s) { return v }
        if let d = Double(s), d == d.rounded(), let v = T(exactly: d) { return v }
        throw ConfigError(path: pathString, "expected an integer, got \"\(s)\"")
    }

    func double() throws -> Double {
        let s = try text().trimmingSpaces()
        guard let v = Double(s) else { throw ConfigError(path: pathString, "expected a number, got \"\(s)\"") }
        return v
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is String.Type: return try text() as! T
        case is Bool.Type: return try bool() as! T
        case is Int.Type: return try integer(Int.self) as! T
        case is Int64.Type: return try integer(Int64.self) as! T
        case is Int32.Type: return try integer(Int32.self) as! T
        case is UInt64.Type: return try integer(UInt64.self) as! T
        case is UInt32.Type: return try integer(UInt32.self) as! T
        case is UInt.Type: return try integer(UInt.self) as! T
        case is Double.Type: return try double() as! T
        default:
            do {
                return try T(from: self)
            } catch let e as DecodingError {
                throw ConfigNodeDecoder.convert(e, fallbackPath: pathString)
            }
        }
    }

    static func convert(_ e: DecodingError, fallbackPath: String) -> ConfigError {
        switch e {
        case .dataCorrupted(let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
            return ConfigError(path: c.codingPath.isEmpty ? fallbackPath : ConfigPath.format(c.codingPath), c.debugDescription)
        case .keyNotFound(let k, let c):
            return ConfigError(path: ConfigPath.format(c.codingPath + [k]), "required")
        @unknown default:
            return ConfigError(path: fallbackPath, "\(e)")
        }
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let pairs: [(key: String, value: ConfigNode)]
    let access: ConfigDiagnostics.KeyedAccess
    let decoder: ConfigNodeDecoder

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { pairs.compactMap { Key(stringValue: $0.key) } }

    func value(_ key: Key) -> ConfigNode? {
        access.used.insert(key.stringValue)
        return pairs.last(where: { $0.key == key.stringValue })?.value
    }

    func contains(_ key: Key) -> Bool { value(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let v = value(key) else { return true }
        return v.isNull
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let v = value(key) else {
            throw ConfigError(path: ConfigPath.format(codingPath + [key]), "required")
        }
        return try decoder.child(v, key).decode(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder.child(value(key) ?? .null, key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.child(value(key) ?? .null, key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder.child(value(key) ?? .null, key) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [ConfigNode]
    let decoder: ConfigNodeDecoder
    var currentIndex = 0

    init(items: [ConfigNode], decoder: ConfigNodeDecoder) {
        self.items = items
        self.decoder = decoder
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func nextDecoder() throws -> ConfigNodeDecoder {
        guard !isAtEnd else { throw ConfigError(path: decoder.pathString, "list has too few elements") }
        defer { currentIndex += 1 }
        return decoder.child(items[currentIndex], ConfigKey(intValue: currentIndex)!)
    }

    mutating func decodeNil() throws -> Bool {
        if !isAtEnd, items[currentIndex].isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try nextDecoder().decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try nextDecoder().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try nextDecoder().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try nextDecoder() }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let decoder: ConfigNodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    func decodeNil() -> Bool { decoder.node.isNull }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(type) }
}

extension Decoder {
    /// The dotted key path of this decoder, for error messages.
    public var configPath: String { ConfigPath.format(codingPath) }

    /// Records a piece of config that tracepipe understands but does not support. It is not an
    /// error by itself: the loader lists all of them together (or skips them with --skip-unsupported).
    public func reportUnsupported(_ key: String, _ message: String) {
        guard let d = self as? ConfigNodeDecoder else { return }
        d.diagnostics.unsupported.append(ConfigError(path: ConfigPath.format(codingPath + [ConfigKey(key)]), message))
    }

    public func warn(_ message: String) {
        guard let d = self as? ConfigNodeDecoder else { return }
        d.diagnostics.warnings.append("\(configPath): \(message)")
    }

    /// Builds an error about this decoder's own value.
    public func invalid(_ message: String) -> ConfigError {
        ConfigError(path: configPath, message)
    }

    /// Builds an error about `key` below this decoder.
    public func invalid(_ key: String, _ message: String) -> ConfigError {
        ConfigError(path: ConfigPath.format(codingPath + [ConfigKey(key)]), message)
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when it is absent or null.
    public func value<T: Decodable>(_ key: Key, or fallback: @autoclosure () -> T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback()
    }

    /// An optional section: absent → nil; present (even empty or null) → decoded with defaults;
    /// `enabled: false` inside it is handled by the section's own type.
    public func section<T: Decodable>(_ key: Key, default empty: @autoclosure () -> T) throws -> T? {
        guard contains(key) else { return nil }
        return try decodeIfPresent(T.self, forKey: key) ?? empty()
    }
}

/// A config enum decoded from its string with an error that lists the accepted values.
public protocol ConfigEnum: RawRepresentable, CaseIterable, Decodable, Sendable where RawValue == String {}

extension ConfigEnum {
    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(rawValue: s) else {
            let allowed = Self.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw decoder.invalid("expected one of \(allowed), got \"\(s)\"")
        }
        self = v
    }
}
