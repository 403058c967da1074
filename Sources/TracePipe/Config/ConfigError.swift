/// One problem in a config: the dotted key path it is about and what was wrong.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Everything wrong with a config at once, so a user fixes all of it in one go.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]
    /// A closing line of advice, e.g. about --skip-unsupported.
    public var hint: String?

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    public var description: String {
        var text: String
        if errors.count == 1 {
            text = "invalid configuration: \(errors[0])"
        } else {
            text = "invalid configuration (\(errors.count) problems):\n" + errors.map { "  - \($0)" }.joined(separator: "\n")
        }
        if let hint { text += "\n" + hint }
        return text
    }
}
