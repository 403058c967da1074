import TraceModel

/// `probabilistic`: FNV-1a-64 of the salt and the trace id against a threshold, as the collector.
struct ProbabilisticPolicy: SamplingPolicy {
    let salt: [UInt8]
    let threshold: UInt64

    init(salt: String, percentage: Double) {
        self.salt = Array((salt.isEmpty ? "default-hash-seed" : salt).utf8)
        threshold = Self.threshold(percentage)
    }

    /// floor((2^64 − 1) × pct/100), exactly (128-bit product of the mantissa).
    static func threshold(_ pct: Double) -> UInt64 {
        if pct >= 100 { return .max }
        if pct <= 0 { return 0 }
        let ratio = pct / 100
        guard ratio.isNormal else { return 0 }
        let mantissa = ratio.significandBitPattern | (1 << 52)
        let shift = 52 - Int(ratio.exponent)  // ratio = mantissa × 2^-shift
        let (hi, lo) = UInt64.max.multipliedFullWidth(by: mantissa)
        if shift >= 128 { return 0 }
        if shift >= 64 { return hi >> UInt64(shift - 64) }
        return hi << UInt64(64 - shift) | lo >> UInt64(shift)
    }

    static func hash(_ salt: [UInt8], _ id: TraceID) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in salt { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        for shift in stride(from: 56, through: 0, by: -8) { h = (h ^ ((id.high >> UInt64(shift)) & 0xFF)) &* 0x0000_0100_0000_01b3 }
        for shift in stride(from: 56, through: 0, by: -8) { h = (h ^ ((id.low >> UInt64(shift)) & 0xFF)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        Self.hash(salt, id) <= threshold ? .sampled : .notSampled
    }
}
