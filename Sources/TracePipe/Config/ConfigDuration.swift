import Foundation

/// A Go-style duration from config: `200ms`, `5s`, `1m30s`, `1h`, `1.5s`; a bare integer is
/// nanoseconds (as the collector reads it).
public struct ConfigDuration: Decodable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func milliseconds(_ ms: Int64) -> ConfigDuration { ConfigDuration(nanoseconds: ms * 1_000_000) }
    public static func seconds(_ s: Int64) -> ConfigDuration { ConfigDuration(nanoseconds: s * 1_000_000_000) }

    public var duration: Duration { .nanoseconds(nanoseconds) }
    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var isZero: Bool { nanoseconds == 0 }

    public var description: String { ConfigDuration.format(nanoseconds) }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let ns = ConfigDuration.parse(s) else {
            throw decoder.invalid("expected a duration such as \"200ms\", \"5s\" or \"1m\", got \"\(s)\"")
        }
        nanoseconds = ns
    }

    private static let units: [(String, Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// Parses Go's duration syntax. Returns nil for anything else.
    public static func parse(_ text: String) -> Int64? {
        var s = Substring(text.trimmingSpaces())
        if let n = Int64(s) { return n }
        var sign: Double = 1
        if s.hasPrefix("-") { sign = -1; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        var total: Double = 0
        while !s.isEmpty {
            let number = s.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            let unitText = s.prefix { !($0.isNumber || $0 == ".") }
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            s = s.dropFirst(unitText.count)
            total += value * unit.1
        }
        guard total * sign < 9.2e18 else { return nil }
        return Int64(total * sign)
    }

    public static func format(_ d: Duration) -> String {
        format(d.totalNanoseconds)
    }

    /// Go's `Duration.String()`-like text: `1m2.5s`, `200ms`, `0s`.
    public static func format(_ ns: Int64) -> String {
        if ns == 0 { return "0s" }
        let neg = ns < 0
        let v = ns.magnitude
        var out: String
        if v < 1_000 {
            out = "\(v)ns"
        } else if v < 1_000_000 {
            out = trim(Double(v) / 1e3) + "µs"
        } else if v < 1_000_000_000 {
            out = trim(Double(v) / 1e6) + "ms"
        } else {
            let h = v / 3_600_000_000_000
            let m = (v / 60_000_000_000) % 60
            let sec = Double(v % 60_000_000_000) / 1e9
            out = ""
            if h > 0 { out += "\(h)h" }
            if h > 0 || m > 0 { out += "\(m)m" }
            out += trim(sec) + "s"
        }
        return neg ? "-" + out : out
    }

    private static func trim(_ d: Double) -> String {
        var s = String(format: "%.9f", d)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}

/// A `host:port` address for a server to listen on.
public struct Endpoint: Decodable, Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let e = Endpoint.parse(s) else {
            throw decoder.invalid("expected host:port, got \"\(s)\"")
        }
        self = e
    }

    /// `host:port`, `:port` (all interfaces) or `[v6]:port`; port 0–65535 (0 = any free port).
    public static func parse(_ s: String) -> Endpoint? {
        var host: Substring
        var portText: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = s.lastIndex(of: ":") else { return nil }
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
              let port = Int(portText), port <= 65535 else { return nil }
        if host.isEmpty { host = "0.0.0.0" }
        if host.contains(where: { $0 == " " || $0 == "/" }) { return nil }
        return Endpoint(host: String(host), port: port)
    }
}

extension Duration {
    /// Whole nanoseconds.
    var totalNanoseconds: Int64 { components.seconds &* 1_000_000_000 &+ components.attoseconds / 1_000_000_000 }
}
