import Foundation
import NIOConcurrencyHelpers
import TraceModel

/// `always_sample`.
struct AlwaysSamplePolicy: SamplingPolicy {
    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision { .sampled }
}

/// `string_attribute`: exact values or (unanchored) regular expressions on a resource or span
/// attribute's string value.
struct StringAttributePolicy: SamplingPolicy {
    let key: String
    let values: Set<String>
    let regexes: [NSRegularExpressionBox]
    let invert: Bool

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        let matched = t.anyAttribute(key) { v in
            guard case .string(let s) = v else { return false }
            if regexes.isEmpty { return values.contains(s) }
            return regexes.contains { $0.matches(s) }
        }
        if invert { return matched ? .invertNotSampled : .invertSampled }
        return matched ? .sampled : .notSampled
    }
}

/// A compiled regular expression that may be shared across tasks (NSRegularExpression is
/// immutable and documented as thread-safe once created).
struct NSRegularExpressionBox: @unchecked Sendable {
    let regex: NSRegularExpression

    func matches(_ s: String) -> Bool {
        regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}

/// `numeric_attribute`: an Int attribute within [min, max].
struct NumericAttributePolicy: SamplingPolicy {
    let key: String
    let min: Int64?
    let max: Int64?
    let invert: Bool

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        let matched = t.anyAttribute(key) { v in
            guard case .int(let i) = v else { return false }
            return i >= (min ?? .min) && i <= (max ?? .max)
        }
        if invert { return matched ? .invertNotSampled : .invertSampled }
        return matched ? .sampled : .notSampled
    }
}

/// `boolean_attribute`.
struct BooleanAttributePolicy: SamplingPolicy {
    let key: String
    let value: Bool
    let invert: Bool

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        let matched = t.anyAttribute(key) { v in
            if case .bool(let b) = v { return b == value }
            return false
        }
        if invert { return matched ? .invertNotSampled : .invertSampled }
        return matched ? .sampled : .notSampled
    }
}
