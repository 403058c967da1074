import Atomics

/// A fixed-bucket histogram that many tasks can record into without a lock, rendered in the
/// Prometheus text format (cumulative `_bucket{le=…}`, `_sum`, `_count`).
public final class Histogram: Sendable {
    public let bounds: [Double]
    private let buckets: [ManagedAtomic<Int>]
    /// The sum is kept in micro-units so it can be an integer atomic.
    private let sumMicros = ManagedAtomic<Int>(0)
    private let total = ManagedAtomic<Int>(0)

    public init(bounds: [Double]) {
        precondition(bounds == bounds.sorted(), "histogram bounds must ascend")
        self.bounds = bounds
        buckets = (0...bounds.count).map { _ in ManagedAtomic(0) }
    }

    public func record(_ value: Double) {
        let i = bounds.firstIndex { value <= $0 } ?? bounds.count
        buckets[i].wrappingIncrement(ordering: .relaxed)
        sumMicros.wrappingIncrement(by: Int((value * 1_000_000).rounded()), ordering: .relaxed)
        total.wrappingIncrement(ordering: .relaxed)
    }

    public var count: Int { total.load(ordering: .relaxed) }
    public var sum: Double { Double(sumMicros.load(ordering: .relaxed)) / 1_000_000 }

    /// Cumulative counts per upper bound, ending with `+Inf`.
    public var cumulative: [(le: String, count: Int)] {
        var running = 0
        var out: [(String, Int)] = []
        for (i, b) in buckets.enumerated() {
            running += b.load(ordering: .relaxed)
            out.append((i < bounds.count ? Histogram.label(bounds[i]) : "+Inf", running))
        }
        return out
    }

    static func label(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}
