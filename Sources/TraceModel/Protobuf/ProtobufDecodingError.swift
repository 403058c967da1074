/// A malformed protobuf body: what was wrong, in which field, at which byte.
public struct ProtobufDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public var offset: Int
    /// e.g. `resourceSpans[0].scopeSpans[1].spans[3].traceId`
    public var path: String

    public init(_ reason: String, offset: Int, path: String = "") {
        self.reason = reason
        self.offset = offset
        self.path = path
    }

    public var description: String {
        path.isEmpty ? "\(reason) (at byte \(offset))" : "\(path): \(reason) (at byte \(offset))"
    }

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
