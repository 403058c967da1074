/// Memory an encoder may write into again: an exporter that sends one large batch after another
/// keeps its encoding buffer instead of allocating a fresh one per batch (a fresh multi-megabyte
/// buffer is fresh pages, and faulting them in showed as ~4 % of the exporter's CPU).
///
/// Not thread-safe: one encoding uses it at a time (callers hand it out through a pool or own
/// it per task), hence `@unchecked Sendable`.
public final class ProtobufEncodeStorage: @unchecked Sendable {
    var pointer: UnsafeMutableRawPointer?
    var capacity = 0

    public init() {}

    deinit {
        pointer?.deallocate()
    }

    /// Bytes held for the next encoding.
    public var retainedBytes: Int { capacity }
}
