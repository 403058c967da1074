import TraceModel

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
