import NIOConcurrencyHelpers
import TraceModel

/// A few encoding buffers shared by an exporter's sending tasks. Encoding is CPU work, so only
/// about as many run at once as there are cores: keeping two buffers serves them without each
/// of the (by default ten) tasks pinning a batch-sized buffer of its own.
final class EncodeBufferPool: Sendable {
    private let kept = NIOLockedValueBox<[ProtobufEncodeStorage]>([])
    let limit: Int

    init(limit: Int = 2) {
        self.limit = limit
    }

    /// A buffer to encode into (an empty one when none is free).
    func take() -> ProtobufEncodeStorage {
        kept.withLockedValue { $0.popLast() } ?? ProtobufEncodeStorage()
    }

    /// Gives a buffer back; past `limit` kept buffers it is freed.
    func put(_ storage: ProtobufEncodeStorage) {
        kept.withLockedValue { if $0.count < limit { $0.append(storage) } }
    }

    var keptCount: Int { kept.withLockedValue { $0.count } }
}
