import FoundationEssentials
import NIOConcurrencyHelpers

/// Whether the pipelines are up, for health probes. Shared by the service and the health extension.
public final class ServiceStatus: Sendable {
    public enum State: Sendable, Equatable {
        case starting
        case ready(since: Date)
        case stopping
    }

    private let box = NIOLockedValueBox(State.starting)

    public init() {}

    public var state: State { box.withLockedValue { $0 } }

    public func set(_ s: State) { box.withLockedValue { $0 = s } }
}
