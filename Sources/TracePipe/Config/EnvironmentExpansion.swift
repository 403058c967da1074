/// Expands `${env:NAME}`, `${NAME}`, `${env:NAME:-default}` in YAML values (never keys) with the
/// collector's rules: `$$` is a literal `$`, bare `$NAME` is left alone, an unset variable without
/// a default becomes empty with a warning, and a value that is exactly one `${…}` is re-read as
/// YAML so it can supply a list or a mapping.
public struct EnvironmentExpansion {
    public var environment: [String: String]
    /// Warnings about unset variables, one per variable.
    public private(set) var warnings: [String] = []
    private var warned: Set<String> = []

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public mutating func expand(_ node: ConfigNode, path: String = "") throws(ConfigError) -> ConfigNode {
        switch node {
        case .null:
            return .null
        case .scalar(let s, let quoted):
            return try expandScalar(s, quoted: quoted, path: path)
        case .sequence(let items):
            var out: [ConfigNode] = []
            for (i, item) in items.enumerated() { out.append(try expand(item, path: "\(path)[\(i)]")) }
            return .sequence(out)
        case .mapping(let pairs):
            var out: [(key: String, value: ConfigNode)] = []
            for (k, v) in pairs { out.append((k, try expand(v, path: path.isEmpty ? k : "\(path).\(k)"))) }
            return .mapping(out)
        }
    }

    mutating func expandScalar(_ s: String, quoted: Bool, path: String) throws(ConfigError) -> ConfigNode {
        guard s.contains("$") else { return .scalar(s, quoted: quoted) }
        let chars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        var substitutions = 0
        var wholeValue: String?
        while i < chars.count {
            guard chars[i] == "$" else {
                out.append(chars[i])
                i += 1
                continue
            }
            if i + 1 < chars.count && chars[i + 1] == "$" {
                out.append("$")
                i += 2
                continue
            }
            guard i + 1 < chars.count && chars[i + 1] == "{" else {
                out.append("$")
                i += 1
                continue
            }
            guard let close = chars[(i + 2)...].firstIndex(of: "}") else {
                throw ConfigError(path: path, "unterminated \"${\" in \"\(s)\"")
            }
            let inner = String(String.UnicodeScalarView(chars[(i + 2)..<close]))
            let value = try resolve(inner, path: path)
            if i == 0 && close == chars.count - 1 { wholeValue = value }
            out.append(contentsOf: value.unicodeScalars)
            substitutions += 1
            i = close + 1
        }
        let text = String(out)
        if let whole = wholeValue, substitutions == 1 {
            // The whole value came from a variable: let it be a list or mapping if it reads as one.
            if let parsed = try? ConfigNode.parse(yaml: whole, source: path) {
                switch parsed {
                case .mapping, .sequence: return parsed
                default: break
                }
            }
        }
        return .scalar(text, quoted: quoted)
    }

    private mutating func resolve(_ inner: String, path: String) throws(ConfigError) -> String {
        var ref = inner
        if let colon = ref.firstIndex(of: ":") {
            let scheme = String(ref[..<colon])
            guard scheme == "env" else {
                if ref[colon...].hasPrefix(":-") {
                    throw ConfigError(path: path, "\"${\(inner)}\": a default needs the env scheme, write \"${env:\(inner)}\"")
                }
                throw ConfigError(path: path, "\"${\(inner)}\": unsupported config source \"\(scheme)\" (only env is supported)")
            }
            ref = String(ref[ref.index(after: colon)...])
        }
        var defaultValue: String?
        if let r = ref.range(of: ":-") {
            defaultValue = String(ref[r.upperBound...])
            ref = String(ref[..<r.lowerBound])
        }
        guard Self.isValidName(ref) else {
            throw ConfigError(path: path, "environment variable \"\(ref)\" has an invalid name: must match [a-zA-Z_][a-zA-Z0-9_]*")
        }
        if let v = environment[ref] { return v }
        if let d = defaultValue { return d }
        if !warned.contains(ref) {
            warned.insert(ref)
            warnings.append("\(path.isEmpty ? "config" : path): environment variable \"\(ref)\" is not set; using an empty value")
        }
        return ""
    }

    static func isValidName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}
