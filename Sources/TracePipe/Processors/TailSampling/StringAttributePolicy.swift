import FoundationEssentials
import TraceModel

/// `string_attribute`: exact values or (unanchored) regular expressions on a resource or span
/// attribute's string value.
struct StringAttributePolicy: SamplingPolicy {
    let key: String
    let values: Set<String>
    let regexes: [RegexPattern]
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
