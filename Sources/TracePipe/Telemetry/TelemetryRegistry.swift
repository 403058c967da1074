import NIOConcurrencyHelpers

/// The instruments of one running service, handed to every component in its context: each
/// component declares its own instrument set (`ReceiverCounters`, `ExporterCounters`, …) in its
/// own folder and registers it here under a key; the metrics endpoint and the health check
/// read them back. One registry per service, no process-wide state, so tests and several
/// services in one process do not share counts.
public final class TelemetryRegistry: Sendable {
    private let sets = NIOLockedValueBox<[String: any Sendable]>([:])

    public init() {}

    /// The instrument set registered under `key`, created on first use (and replaced when
    /// `reuseIf` rejects the registered one, e.g. after a processor's policies changed).
    func instruments<Set: Sendable>(_ key: String, reuseIf: (Set) -> Bool = { _ in true }, make: () -> Set) -> Set {
        sets.withLockedValue { all in
            if let s = all[key] as? Set, reuseIf(s) { return s }
            let s = make()
            all[key] = s
            return s
        }
    }

    /// Every registered set of one type, in key order (stable output for the metrics endpoint).
    func all<Set: Sendable>(_ type: Set.Type) -> [Set] {
        sets.withLockedValue { all in all.sorted { $0.key < $1.key }.compactMap { $0.value as? Set } }
    }
}
