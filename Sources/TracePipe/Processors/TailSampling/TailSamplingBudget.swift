import Atomics

/// What tail sampling's shards hold together: bytes of waiting spans (in memory, as
/// `TraceData.estimatedByteSize` counts them, plus a fixed cost per waiting trace) and waiting
/// traces. One atomic add per request and per decision: the shards share no lock.
final class TailSamplingBudget: Sendable {
    let limitBytes: Int
    private let bytes = ManagedAtomic<Int>(0)
    private let traces = ManagedAtomic<Int>(0)

    /// The bookkeeping of one waiting trace beyond its spans: its table entry, its slot in the
    /// arrival order and its key in the decision caches' reach (measured by pipeline-bench).
    static let perTraceBytes = 160

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    var waitingBytes: Int { bytes.load(ordering: .relaxed) }
    var waitingTraces: Int { traces.load(ordering: .relaxed) }
    var isOver: Bool { waitingBytes > limitBytes }

    /// Takes `n` bytes if they fit (or if nothing waits: a request larger than the whole budget
    /// must still get through once).
    func reserve(_ n: Int) -> Bool {
        var current = bytes.load(ordering: .relaxed)
        while true {
            if current > 0 && current + n > limitBytes { return false }
            let (exchanged, original) = bytes.weakCompareExchange(expected: current, desired: current + n, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Takes `n` bytes whether they fit or not (the caller then makes room or gives them back).
    func add(_ n: Int) { bytes.wrappingIncrement(by: n, ordering: .relaxed) }

    func release(_ n: Int) {
        if n != 0 { bytes.wrappingDecrement(by: n, ordering: .relaxed) }
    }

    func tracesAdded(_ n: Int) {
        if n != 0 { traces.wrappingIncrement(by: n, ordering: .relaxed) }
    }
}
