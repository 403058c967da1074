/// A malformed body: what was wrong, at which byte, and the field path from the document root
/// (e.g. `resourceSpans[0].scopeSpans[1].spans[3].traceId`), which the error gathers on its way
/// out of nested messages. `Wire` tells the formats' errors apart as types.
public struct WireDecodingError<Wire>: Error, Equatable, CustomStringConvertible {
    /// What was wrong, e.g. `traceId: expected 32 hex digits, got 30`.
    public var reason: String
    /// Byte offset in the input where the problem was found.
    public var offset: Int
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

extension WireDecodingError: Sendable {}

public enum JSONWire {}
public enum ProtobufWire {}

/// A malformed JSON body.
public typealias JSONDecodingError = WireDecodingError<JSONWire>
/// A malformed protobuf body.
public typealias ProtobufDecodingError = WireDecodingError<ProtobufWire>

/// A decoder of request bodies into the model, throwing its format's error.
public protocol TraceDecoder {
    associatedtype Failure: Error
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> TraceData
}

extension TraceDecoder {
    public static func decode(_ bytes: [UInt8]) throws(Failure) -> TraceData {
        try bytes.withUnsafeBufferPointer { buf throws(Failure) in try decode(UnsafeRawBufferPointer(buf)) }
    }
}
