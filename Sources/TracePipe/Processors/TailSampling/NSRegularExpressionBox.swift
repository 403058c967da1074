import Foundation
import TraceModel

/// A compiled regular expression that may be shared across tasks (NSRegularExpression is
/// immutable and documented as thread-safe once created).
struct NSRegularExpressionBox: @unchecked Sendable {
    let regex: NSRegularExpression

    func matches(_ s: String) -> Bool {
        regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}

extension NSRegularExpressionBox {
    /// Compiles a collector (RE2) pattern: RE2's `(?P<name>…)` groups become ICU's `(?<name>…)`.
    static func re2(_ pattern: String) throws -> NSRegularExpressionBox {
        NSRegularExpressionBox(regex: try NSRegularExpression(pattern: pattern.replacingOccurrences(of: "(?P<", with: "(?<")))
    }
}
