/// An OTLP `AnyValue`: the value of an attribute. `.empty` is a value with no member set.
public enum AnyValue: Sendable, Hashable {
    case empty
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    case array([AnyValue])
    case kvlist([KeyValue])

    public static func == (a: AnyValue, b: AnyValue) -> Bool {
        switch (a, b) {
        case (.empty, .empty): return true
        case let (.string(x), .string(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        // NaN equals NaN here so that a decode/encode round trip compares equal.
        case let (.double(x), .double(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.bytes(x), .bytes(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.kvlist(x), .kvlist(y)): return x == y
        default: return false
        }
    }

    public func hash(into h: inout Hasher) {
        switch self {
        case .empty: h.combine(0)
        case .string(let s): h.combine(1); h.combine(s)
        case .bool(let b): h.combine(2); h.combine(b)
        case .int(let i): h.combine(3); h.combine(i)
        case .double(let d): h.combine(4); h.combine(d.isNaN ? Double.nan.bitPattern : (d == 0 ? 0 : d.bitPattern))
        case .bytes(let b): h.combine(5); h.combine(b)
        case .array(let a): h.combine(6); h.combine(a)
        case .kvlist(let k): h.combine(7); h.combine(k)
        }
    }

    /// The value as a string when it is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// One attribute: a key and its value. Keys may repeat in a list (OTLP allows it; the collector keeps both).
public struct KeyValue: Sendable, Hashable {
    public var key: String
    public var value: AnyValue

    public init(key: String, value: AnyValue) {
        self.key = key
        self.value = value
    }

    public init(_ key: String, _ value: AnyValue) {
        self.init(key: key, value: value)
    }
}

extension Array where Element == KeyValue {
    /// The first value stored under `key`.
    public subscript(attribute key: String) -> AnyValue? {
        for kv in self where kv.key == key { return kv.value }
        return nil
    }
}
