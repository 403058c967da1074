/// A W3C `tracestate` with its OpenTelemetry member (`ot=th:…;rv:…`) parsed, as consistent
/// probability sampling (OTEP 235) reads and writes it.
struct SamplingTraceState: Equatable {
    struct ParseError: Error, Equatable {
        var reason: String
    }

    /// 56-bit values: thresholds and randomness.
    static let maxAdjusted: UInt64 = 1 << 56

    /// Other list members (`vendor=value`), in order, without the `ot` one.
    var others: [(key: String, value: String)] = []
    /// Position of the `ot` member among the members (members keep their order).
    var otIndex: Int?
    var threshold: UInt64?
    var randomness: UInt64?
    /// `ot` sub-keys other than th and rv, in order.
    var otExtras: [(key: String, value: String)] = []

    static func == (a: SamplingTraceState, b: SamplingTraceState) -> Bool {
        a.serialized == b.serialized
    }

    init(parsing text: String) throws(ParseError) {
        guard !text.isEmpty else { return }
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let member = raw.trimmingSpaces()
            if member.isEmpty { continue }
            guard let eq = member.firstIndex(of: "="), eq != member.startIndex else {
                throw ParseError(reason: "tracestate member \"\(member)\" is not key=value")
            }
            let key = String(member[..<eq])
            let value = String(member[member.index(after: eq)...])
            guard key.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || "_-*/@".contains($0)) }) else {
                throw ParseError(reason: "tracestate key \"\(key)\" has invalid characters")
            }
            if key == "ot" {
                otIndex = others.count
                try parseOT(value)
            } else {
                others.append((key, value))
            }
        }
    }

    private mutating func parseOT(_ value: String) throws(ParseError) {
        for part in value.split(separator: ";") {
            guard let colon = part.firstIndex(of: ":") else { throw ParseError(reason: "ot sub-key \"\(part)\" is not key:value") }
            let k = String(part[..<colon])
            let v = String(part[part.index(after: colon)...])
            switch k {
            case "th":
                guard let t = Self.parseThreshold(v) else { throw ParseError(reason: "invalid threshold th:\(v)") }
                threshold = t
            case "rv":
                guard v.count == 14, let r = UInt64(v, radix: 16) else { throw ParseError(reason: "invalid randomness rv:\(v)") }
                randomness = r
            default:
                otExtras.append((k, v))
            }
        }
    }

    /// `th` is 1–14 hex digits, trailing zeros implied.
    static func parseThreshold(_ v: String) -> UInt64? {
        guard !v.isEmpty, v.count <= 14, let n = UInt64(v, radix: 16) else { return nil }
        return n << UInt64(4 * (14 - v.count))
    }

    /// 14 hex digits with trailing zeros removed ("0" for zero).
    static func formatThreshold(_ t: UInt64) -> String {
        if t == 0 { return "0" }
        var s = String(t, radix: 16)
        s = String(repeating: "0", count: max(0, 14 - s.count)) + s
        while s.hasSuffix("0") { s.removeLast() }
        return s
    }

    static func formatRandomness(_ r: UInt64) -> String {
        let s = String(r, radix: 16)
        return String(repeating: "0", count: max(0, 14 - s.count)) + s
    }

    var serialized: String {
        var ot: [String] = []
        if let r = randomness { ot.append("rv:\(Self.formatRandomness(r))") }
        if let t = threshold { ot.append("th:\(Self.formatThreshold(t))") }
        ot += otExtras.map { "\($0.key):\($0.value)" }
        var members = others.map { "\($0.key)=\($0.value)" }
        if !ot.isEmpty {
            members.insert("ot=" + ot.joined(separator: ";"), at: min(otIndex ?? 0, members.count))
        }
        return members.joined(separator: ",")
    }
}
