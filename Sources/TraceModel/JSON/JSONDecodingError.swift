/// A malformed JSON body: what was wrong, where in the document (field path) and at which byte.
public struct JSONDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong, e.g. `traceId: expected 32 hex digits, got 30`.
    public var reason: String
    /// Byte offset in the input where the problem was found.
    public var offset: Int
    /// Field path from the document root, e.g. `resourceSpans[0].scopeSpans[0].spans[2].traceId`.
    public var path: String

    public init(_ reason: String, offset: Int, path: String = "") {
        self.reason = reason
        self.offset = offset
        self.path = path
    }

    public var description: String {
        path.isEmpty ? "\(reason) (at byte \(offset))" : "\(path): \(reason) (at byte \(offset))"
    }

    /// Prefixes a path component as the error travels up out of nested objects.
    mutating func prepend(_ component: String) {
        if path.isEmpty {
            path = component
        } else if path.hasPrefix("[") {
            path = component + path
        } else {
            path = component + "." + path
        }
    }
}
