import FoundationEssentials

/// A component or pipeline id: `type` or `type/name`, e.g. `otlphttp/tempo`, `traces/sampled`.
public struct ComponentID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var type: String
    public var name: String

    public init(type: String, name: String = "") {
        self.type = type
        self.name = name
    }

    public var description: String { name.isEmpty ? type : "\(type)/\(name)" }

    public static func < (a: ComponentID, b: ComponentID) -> Bool { a.description < b.description }

    /// Parses and validates an id with the collector's rules.
    public static func parse(_ text: String) -> Result<ComponentID, ConfigError> {
        let s = text.trimmingSpaces()
        guard !s.isEmpty else { return .failure(ConfigError(path: "", "id must not be empty")) }
        let type: Substring
        var name: Substring = ""
        if let slash = s.firstIndex(of: "/") {
            type = s[..<slash]
            name = s[s.index(after: slash)...]
            guard !name.isEmpty else {
                return .failure(ConfigError(path: "", "\"\(s)\": the name after \"/\" must not be empty"))
            }
            guard name.unicodeScalars.allSatisfy(isNameScalar) else {
                return .failure(ConfigError(path: "", "\"\(s)\": invalid character(s) in name \"\(name)\""))
            }
        } else {
            type = Substring(s)
        }
        guard let first = type.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic,
              type.count <= 63,
              type.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") })
        else {
            return .failure(ConfigError(path: "", "invalid character(s) in type \"\(type)\" (a type is a letter followed by letters, digits or _)"))
        }
        return .success(ComponentID(type: String(type), name: String(name)))
    }

    /// Names may hold anything but whitespace, control characters and symbols (Unicode Z, C, S).
    private static func isNameScalar(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator,
             .control, .format, .surrogate, .privateUse, .unassigned,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return false
        default:
            return true
        }
    }
}
