import FoundationEssentials
import NIOConcurrencyHelpers
import TraceModel

/// `composite`: sub-policies in `policy_order`, each with a share of `max_total_spans_per_second`
/// per wall-clock second; the first that samples decides, if its share still has room.
final class CompositePolicy: SamplingPolicy {
    struct Sub {
        var name: String
        var policy: any SamplingPolicy
        var budget: Int64
    }

    let subs: [Sub]
    let maxTotal: Int64
    private let usage = NIOLockedValueBox<(second: Int64, perPolicy: [Int64], total: Int64)>((0, [], 0))

    init(subs: [Sub], maxTotal: Int64) {
        self.subs = subs
        self.maxTotal = maxTotal
    }

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        let second = Int64(Date().timeIntervalSince1970)
        for (i, s) in subs.enumerated() {
            let d = s.policy.evaluate(id, t, now: now).normalized
            guard d == .sampled else { continue }
            let spans = Int64(t.spanCount)
            return usage.withLockedValue { u in
                if u.second != second || u.perPolicy.count != subs.count { u = (second, Array(repeating: 0, count: subs.count), 0) }
                guard u.perPolicy[i] + spans <= s.budget, u.total + spans <= maxTotal else { return .notSampled }
                u.perPolicy[i] += spans
                u.total += spans
                return .sampled
            }
        }
        return .notSampled
    }
}
