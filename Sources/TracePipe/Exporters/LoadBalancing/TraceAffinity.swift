import DequeModule
import TraceModel

/// Remembers which backend each recent trace went to, so a trace keeps its backend when the
/// ring changes (a gateway added or removed) or its backend fails over: only traces first seen
/// after the change follow the new ring. An entry lives `window` after the trace was last
/// routed; at most `capacity` entries are kept, the least recently routed giving way first
/// (counted in `evictedEarly`).
///
/// Memory: a dictionary entry (16-byte id, 8-byte value, at most 3/4 full) and a 24-byte FIFO
/// slot (with the deque's growth slack) per trace: 56–112 bytes, so at most ~22 MB for the
/// default 200,000 traces.
/// Not thread-safe: the exporter calls it under its lock, once per request.
struct TraceAffinity {
    struct Entry {
        /// Index into the exporter's endpoint registry (stable for the process's life).
        var backend: UInt32
        /// Seconds since the exporter started, when the trace was last routed.
        var lastSeen: UInt32
    }

    let window: UInt32
    let capacity: Int
    private var entries: [TraceID: Entry] = [:]
    /// Ids in the order of the stamp they were queued with. An entry routed again since keeps
    /// its place until it reaches the front, then is queued again with its new stamp; so the
    /// front is always the least recently routed, and expiry and eviction are amortised O(1).
    private var order = Deque<(id: TraceID, stamp: UInt32)>()
    private(set) var evictedEarly = 0

    init(windowSeconds: Int, capacity: Int) {
        window = UInt32(clamping: max(windowSeconds, 1))
        self.capacity = max(capacity, 0)
    }

    var count: Int { entries.count }

    func backend(of id: TraceID) -> UInt32? { entries[id]?.backend }

    /// Records that `id` went to `backend` at `now` (seconds).
    mutating func record(_ id: TraceID, backend: UInt32, now: UInt32) {
        guard capacity > 0 else { return }
        if entries.updateValue(Entry(backend: backend, lastSeen: now), forKey: id) != nil { return }
        order.append((id, now))
        if entries.count > capacity { dropOldest(now: now, expiredOnly: false) }
    }

    /// Drops what has not been routed for `window`.
    mutating func expire(now: UInt32) {
        dropOldest(now: now, expiredOnly: true)
    }

    private mutating func dropOldest(now: UInt32, expiredOnly: Bool) {
        while let front = order.first {
            guard let e = entries[front.id] else {
                order.removeFirst()
                continue
            }
            if e.lastSeen != front.stamp {
                order.removeFirst()
                order.append((front.id, e.lastSeen))
                continue
            }
            let expired = now &- e.lastSeen >= window
            if expiredOnly && !expired { return }
            order.removeFirst()
            entries[front.id] = nil
            if !expiredOnly {
                if !expired { evictedEarly += 1 }
                return
            }
        }
    }
}
