import NIOConcurrencyHelpers

/// Per-attribute-key decisions of a processor, shared by all its requests and bounded: keys
/// repeat in every span, so a decision (pattern verdicts) is computed once per key.
final class KeyCache<Value: Sendable>: Sendable {
    private let cache = NIOLockedValueBox<[String: Value]>([:])
    /// Past this many keys the cache starts over (keys are normally a small, fixed set).
    static var limit: Int { 10_000 }

    func value(for key: String, compute: () -> Value) -> Value {
        if let v = cache.withLockedValue({ $0[key] }) { return v }
        let v = compute()
        cache.withLockedValue { c in
            if c.count >= Self.limit { c.removeAll(keepingCapacity: true) }
            c[key] = v
        }
        return v
    }
}
