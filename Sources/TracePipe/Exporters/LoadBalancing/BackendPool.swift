import Logging
import NIOConcurrencyHelpers
import NIOCore
import TraceModel

/// The loadbalancing exporter's view of its tier: the members the resolver found (and the ring
/// over them), each backend's health, and the trace affinity table. Routing asks it where each
/// trace goes *now*, at send time, so queued data follows the current membership.
///
/// Backends get a stable id for the process's life (membership changes only flip `member`), so
/// lanes and the affinity table can hold ids, not names.
final class BackendPool: Sendable {
    struct Backend {
        let name: String
        let sender: OTLPGRPCSender
        var member = true
        var down = false
        /// Failed attempts in a row (reset by a success or by coming back up).
        var failures = 0
    }

    struct State {
        var backends: [Backend] = []
        var ids: [String: UInt32] = [:]
        var ring = HashRing(endpoints: [])
        /// `ring.endpoints[i]`'s backend id.
        var ringIDs: [UInt32] = []
        /// Bumped at every membership change, so lanes know to drop connections to leavers.
        var generation = 0
        var affinity: TraceAffinity
        var everResolved = false
    }

    /// Where one piece of a request goes: the request and which of its spans (none copied; the
    /// piece is encoded in place), or a request of its own.
    struct Route {
        var backend: UInt32
        var name: String
        var source: TraceData
        var selection: SpanSelection?
        /// How many pieces the request was cut into.
        var pieces: Int

        init(backend: UInt32, name: String, data: TraceData) {
            (self.backend, self.name, source, selection, pieces) = (backend, name, data, nil, 1)
        }

        init(backend: UInt32, name: String, source: TraceData, selection: SpanSelection, pieces: Int) {
            (self.backend, self.name, self.source, self.selection, self.pieces) = (backend, name, source, selection, pieces)
        }

        var spanCount: Int { selection?.spanCount ?? source.spanCount }

        /// The piece as a request of its own (to retry it after a failure).
        var data: TraceData {
            guard let selection else { return source }
            return source.partitioned(into: pieces, assignments: selection.assignments)[Int(selection.piece)]
        }
    }

    let template: OTLPGRPCExporterConfig
    let routingKey: LoadBalancingExporterConfig.RoutingKey
    let failover: LoadBalancingExporterConfig.Failover
    let affinityEnabled: Bool
    let group: any EventLoopGroup
    let logger: Logger
    let counters: LoadBalancerCounters
    private let state: NIOLockedValueBox<State>
    private let started = ContinuousClock.now
    /// One pool of encoding buffers for every backend: backends come and go with the tier, and
    /// each sender's own pool would keep up to two batch-sized buffers after its backend left.
    private let encodeBuffers = EncodeBufferPool(limit: 4)

    init(config: LoadBalancingExporterConfig, group: any EventLoopGroup, logger: Logger, counters: LoadBalancerCounters) {
        template = config.otlp
        routingKey = config.routingKey
        failover = config.failover
        affinityEnabled = config.affinity.enabled && config.routingKey == .traceID
        self.group = group
        self.logger = logger
        self.counters = counters
        let windowSeconds = Int((config.affinity.window.nanoseconds + 999_999_999) / 1_000_000_000)
        state = NIOLockedValueBox(State(affinity: TraceAffinity(windowSeconds: windowSeconds, capacity: affinityEnabled ? config.affinity.maxTraces : 0)))
    }

    // MARK: membership

    /// Takes a resolver's (sorted) list. Returns false when nothing changed.
    @discardableResult
    func update(endpoints: [String]) -> Bool {
        var unique: [String] = []
        for e in endpoints where !unique.contains(e) { unique.append(e) }
        let result: (added: [String], removed: [String], count: Int)? = state.withLockedValue { s in
            guard !s.everResolved || unique != s.ring.endpoints else { return nil }
            s.everResolved = true
            let before = Set(s.ring.endpoints)
            var ringIDs: [UInt32] = []
            for name in unique {
                if let id = s.ids[name] {
                    ringIDs.append(id)
                    continue
                }
                guard let address = BackendAddress(endpoint: name) else {
                    logger.error("the resolver gave an endpoint that is not host:port; skipping it", metadata: ["endpoint": "\(name)"])
                    continue
                }
                let sender: OTLPGRPCSender
                do {
                    sender = try OTLPGRPCSender(config: template.withEndpoint(host: address.host, port: address.port), group: group, logger: logger,
                                                encodeBuffers: encodeBuffers)
                } catch {
                    logger.error("cannot set up a sender for the backend; skipping it", metadata: ["endpoint": "\(name)", "error": "\(error)"])
                    continue
                }
                let id = UInt32(s.backends.count)
                s.backends.append(Backend(name: name, sender: sender))
                s.ids[name] = id
                ringIDs.append(id)
            }
            let names = ringIDs.map { s.backends[Int($0)].name }
            for i in s.backends.indices { s.backends[i].member = false }
            for id in ringIDs {
                s.backends[Int(id)].member = true
            }
            s.ring = HashRing(endpoints: names)
            s.ringIDs = ringIDs
            s.generation += 1
            let now = Set(names)
            return (names.filter { !before.contains($0) }, before.filter { !now.contains($0) }.sorted(), names.count)
        }
        guard let result else { return false }
        counters.membership(backends: result.count)
        for name in result.added { counters.backendState(endpoint: name, up: !isDown(name)) }
        for name in result.removed { counters.backendState(endpoint: name, up: nil) }
        updateDownGauge()
        logger.info("loadbalancing backends changed", metadata: [
            "backends": "\(result.count)", "added": "\(result.added)", "removed": "\(result.removed)", "resolver": "\(counters.resolver)",
        ])
        return true
    }

    var generation: Int { state.withLockedValue { $0.generation } }

    var memberCount: Int { state.withLockedValue { $0.ringIDs.count } }

    func isMember(_ id: UInt32) -> Bool { state.withLockedValue { $0.backends[Int(id)].member } }

    func sender(_ id: UInt32) -> OTLPGRPCSender { state.withLockedValue { $0.backends[Int(id)].sender } }

    func name(_ id: UInt32) -> String { state.withLockedValue { $0.backends[Int(id)].name } }

    private func isDown(_ name: String) -> Bool {
        state.withLockedValue { s in s.ids[name].map { s.backends[Int($0)].down } ?? false }
    }

    // MARK: health

    /// A successful attempt: the failure streak ends.
    func recordSuccess(_ id: UInt32) {
        state.withLockedValue { $0.backends[Int(id)].failures = 0 }
    }

    /// A failed attempt. `countsTowardDown`: refused, UNAVAILABLE, timeouts (not a throttling
    /// answer with a retry delay). Returns whether the backend is down now, and whether this
    /// failure is what marked it.
    func recordFailure(_ id: UInt32, countsTowardDown: Bool) -> (down: Bool, newlyDown: Bool) {
        guard failover.enabled, countsTowardDown else { return (false, false) }
        let (down, newly, name, member) = state.withLockedValue { s -> (Bool, Bool, String, Bool) in
            s.backends[Int(id)].failures += 1
            let b = s.backends[Int(id)]
            guard !b.down, b.failures >= failover.failures else { return (b.down, false, b.name, b.member) }
            s.backends[Int(id)].down = true
            return (true, true, b.name, b.member)
        }
        if newly {
            // A backend that already left keeps reading -1.
            if member { counters.backendState(endpoint: name, up: false) }
            updateDownGauge()
            logger.warning("loadbalancing backend marked down; its traces go to the next backend on the ring until a probe finds it up",
                           metadata: ["endpoint": "\(name)", "failures": "\(failover.failures)"])
        }
        return (down, newly)
    }

    /// The backends marked down that are still members: what the prober tries.
    func downMembers() -> [UInt32] {
        state.withLockedValue { s in s.ringIDs.filter { s.backends[Int($0)].down } }
    }

    func markUp(_ id: UInt32) {
        let name: String? = state.withLockedValue { s in
            guard s.backends[Int(id)].down else { return nil }
            s.backends[Int(id)].down = false
            s.backends[Int(id)].failures = 0
            return s.backends[Int(id)].name
        }
        guard let name else { return }
        counters.backendState(endpoint: name, up: true)
        updateDownGauge()
        logger.info("loadbalancing backend is up again; new traces go to it", metadata: ["endpoint": "\(name)"])
    }

    private func updateDownGauge() {
        counters.backendsDown(state.withLockedValue { s in s.ringIDs.filter { s.backends[Int($0)].down }.count })
    }

    // MARK: routing

    enum RoutingFailure: Error, CustomStringConvertible {
        case noBackends
        case allDown(Int)

        var description: String {
            switch self {
            case .noBackends: return "no backends: the resolver has not found any yet"
            case .allDown(let n): return "all \(n) backends are marked down"
            }
        }
    }

    /// Splits `data` by backend, as routing stands now.
    func route(_ data: TraceData) throws(RoutingFailure) -> [Route] {
        switch routingKey {
        case .traceID: return try routeByTrace(data)
        case .service: return try routeByService(data)
        }
    }

    private var nowSeconds: UInt32 {
        UInt32(clamping: (ContinuousClock.now - started).components.seconds)
    }

    private func routeByTrace(_ data: TraceData) throws(RoutingFailure) -> [Route] {
        // Outside the lock: the distinct trace ids, their ring positions and span counts.
        // `spanSlots[k]`: the k-th span's trace, as an index into `ids` (one hash lookup per run
        // of spans of one trace; the pieces are then cut from this array, without hashing again).
        var slots: [TraceID: Int32] = [:]
        var ids: [TraceID] = []
        var spans: [Int] = []
        var spanSlots: [Int32] = []
        spanSlots.reserveCapacity(data.spanCount)
        var last = TraceID.zero
        var lastSlot: Int32 = -1
        for rs in data.resourceSpans {
            for ss in rs.scopeSpans {
                for i in ss.spans.indices {
                    let id = ss.spans[i].traceID
                    if id != last || lastSlot < 0 {
                        if let s = slots[id] { lastSlot = s } else {
                            lastSlot = Int32(ids.count)
                            slots[id] = lastSlot
                            ids.append(id)
                            spans.append(0)
                        }
                        last = id
                    }
                    spans[Int(lastSlot)] += 1
                    spanSlots.append(lastSlot)
                }
            }
        }
        guard !ids.isEmpty else { return [] }
        let positions = ids.map { id in withUnsafeBytes(of: TraceIDBytes(id).storage) { HashRing.crc32($0) % HashRing.positions } }
        // Under the lock: one backend per trace.
        let now = nowSeconds
        var failoverSpans = 0
        var affinitySpans = 0
        var affinityFigures: (Int, Int)?
        let (backendOfSlot, backends): ([UInt32], [Backend]) = try state.withLockedValue { s -> Result<([UInt32], [Backend]), RoutingFailure> in
            guard !s.ring.isEmpty else { return .failure(.noBackends) }
            if affinityEnabled { s.affinity.expire(now: now) }
            var chosen: [UInt32] = []
            chosen.reserveCapacity(ids.count)
            let backends = s.backends
            let ringIDs = s.ringIDs
            for (slot, id) in ids.enumerated() {
                // A backend that left the membership keeps its traces while it still answers
                // (a Pod is removed from its Service before it stops): they stay whole.
                if affinityEnabled, let kept = s.affinity.backend(of: id), !backends[Int(kept)].down {
                    let ringChoice = ringIDs[s.ring.owner(ofPoint: s.ring.point(atPosition: positions[slot]))]
                    if ringChoice != kept { affinitySpans += spans[slot] }
                    chosen.append(kept)
                    s.affinity.record(id, backend: kept, now: now)
                    continue
                }
                let point = s.ring.point(atPosition: positions[slot])
                guard let owner = s.ring.firstUp(fromPoint: point, isUp: { !backends[Int(ringIDs[$0])].down }) else {
                    return .failure(.allDown(ringIDs.count))
                }
                let backend = ringIDs[owner]
                if owner != s.ring.owner(ofPoint: point) { failoverSpans += spans[slot] }
                chosen.append(backend)
                if affinityEnabled { s.affinity.record(id, backend: backend, now: now) }
            }
            affinityFigures = (s.affinity.count, s.affinity.evictedEarly)
            return .success((chosen, backends))
        }.get()
        counters.rerouted(afterFailover: failoverSpans, byAffinity: affinitySpans)
        if affinityEnabled, let (traces, evicted) = affinityFigures { counters.affinity(traces: traces, evicted: evicted) }
        // Outside the lock again: the pieces.
        var pieceOf: [UInt32: UInt16] = [:]
        var pieceBackends: [UInt32] = []
        let pieceOfSlot = backendOfSlot.map { b -> UInt16 in
            if let p = pieceOf[b] { return p }
            pieceOf[b] = UInt16(pieceBackends.count)
            pieceBackends.append(b)
            return UInt16(pieceBackends.count - 1)
        }
        if pieceBackends.count == 1 { return [Route(backend: pieceBackends[0], name: backends[Int(pieceBackends[0])].name, data: data)] }
        var counts = [Int](repeating: 0, count: pieceBackends.count)
        let assignments = spanSlots.map { slot -> UInt16 in
            let p = pieceOfSlot[Int(slot)]
            counts[Int(p)] += 1
            return p
        }
        return pieceBackends.enumerated().map { i, b in
            Route(backend: b, name: backends[Int(b)].name, source: data,
                  selection: SpanSelection(assignments: assignments, piece: UInt16(i), spanCount: counts[i]), pieces: pieceBackends.count)
        }
    }

    private func routeByService(_ data: TraceData) throws(RoutingFailure) -> [Route] {
        let services = data.resourceSpans.map { $0.resource.attributes[attribute: "service.name"]?.stringValue ?? "" }
        var failoverSpans = 0
        let (chosen, names): ([UInt32], [UInt32: String]) = try state.withLockedValue { s -> Result<([UInt32], [UInt32: String]), RoutingFailure> in
            guard !s.ring.isEmpty else { return .failure(.noBackends) }
            let backends = s.backends
            let ringIDs = s.ringIDs
            var chosen: [UInt32] = []
            for (i, service) in services.enumerated() {
                let point = Array(service.utf8).withUnsafeBytes { s.ring.point(for: $0) }
                guard let owner = s.ring.firstUp(fromPoint: point, isUp: { !backends[Int(ringIDs[$0])].down }) else {
                    return .failure(.allDown(ringIDs.count))
                }
                if owner != s.ring.owner(ofPoint: point) {
                    failoverSpans += data.resourceSpans[i].scopeSpans.reduce(0) { $0 + $1.spans.count }
                }
                chosen.append(ringIDs[owner])
            }
            return .success((chosen, Dictionary(ringIDs.map { ($0, backends[Int($0)].name) }, uniquingKeysWith: { a, _ in a })))
        }.get()
        counters.rerouted(afterFailover: failoverSpans, byAffinity: 0)
        var pieceOf: [UInt32: Int] = [:]
        var pieceBackends: [UInt32] = []
        for b in chosen where pieceOf[b] == nil {
            pieceOf[b] = pieceBackends.count
            pieceBackends.append(b)
        }
        var next = 0
        let pieces = data.partitionedByResource(into: max(pieceBackends.count, 1)) { _ in
            defer { next += 1 }
            return pieceOf[chosen[next]]!
        }
        return zip(pieceBackends, pieces).map { Route(backend: $0, name: names[$0] ?? "", data: $1) }
    }
}
