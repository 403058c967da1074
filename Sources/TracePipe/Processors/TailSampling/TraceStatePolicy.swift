import TraceModel

/// `trace_state`: a W3C tracestate member with one of the listed values.
struct TraceStatePolicy: SamplingPolicy {
    let key: String
    let values: Set<String>

    func evaluate(_ id: TraceID, _ t: TraceBuffer, now: ContinuousClock.Instant) -> SamplingDecision {
        t.forEachSpan { _, s in
            s.traceState.split(separator: ",").contains { member in
                let parts = member.trimmingSpaces().split(separator: "=", maxSplits: 1)
                return parts.count == 2 && parts[0] == key && values.contains(String(parts[1]))
            }
        } ? .sampled : .notSampled
    }
}
