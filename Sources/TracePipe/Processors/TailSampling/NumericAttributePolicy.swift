import TraceModel

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
