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

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    public var description: String {
        if errors.count == 1 { return "invalid configuration: \(errors[0])" }
        return "invalid configuration (\(errors.count) problems):\n" + errors.map { "  - \($0)" }.joined(separator: "\n")
    }
}
