import NIOConcurrencyHelpers
import TraceModel

/// One sending task's lane of the loadbalancing exporter: routes each request as membership
/// and health stand at send time, sends the pieces to their backends at once (one otlp
/// connection per backend per lane), and reports what is left when some piece failed.
///
/// A failure that marks a backend down, or that leaves the backend below the failover
/// threshold, is retried at once (the piece then goes to the successor on the ring, or tries
/// its backend again); anything else goes back to the retry policy as a partial delivery, so
/// pieces already delivered are not sent twice.
final class RoutingLane: ExportLane, @unchecked Sendable {
    let pool: BackendPool
    /// Owned by the one sending task; `close` (any task) only closes connections.
    private var lanes: [UInt32: OTLPGRPCLane] = [:]
    private var generation = -1
    private let closeLock = NIOLock()

    init(pool: BackendPool) {
        self.pool = pool
    }

    func close() {
        closeLock.withLock { for l in lanes.values { l.close() } }
    }

    private func lane(_ id: UInt32) throws(ExportError) -> OTLPGRPCLane {
        if let l = lanes[id] { return l }
        do {
            let l = try OTLPGRPCLane(sender: pool.sender(id))
            closeLock.withLock { lanes[id] = l }
            return l
        } catch {
            throw .retryable("cannot set up a sender for backend \(pool.name(id)): \(error)", retryAfter: nil)
        }
    }

    /// Connections to backends that left the membership are closed.
    private func dropLeavers() {
        let g = pool.generation
        guard g != generation else { return }
        generation = g
        closeLock.withLock {
            for (id, l) in lanes where !pool.isMember(id) {
                l.close()
                lanes[id] = nil
            }
        }
    }

    private enum PieceResult: Sendable {
        case delivered(spans: Int, rejected: Int, message: String)
        case rejected(spans: Int, message: String)
        case failed(TraceData, ExportError, retryNow: Bool)
    }

    func send(_ data: TraceData, headerEdits: [HeaderEdit], timeout: Duration?) async throws(ExportError) -> ExportOutcome {
        dropLeavers()
        var pending = data
        var delivered = 0
        var rejected = 0
        var rejectionMessage = ""
        // Each backend can be retried at once at most `failures` times before it is down, and
        // each down backend passes its share on once: this bounds the immediate passes.
        let maxPasses = pool.failover.failures * max(pool.memberCount, 1) + 1
        var passes = 0
        while true {
            passes += 1
            guard pending.spanCount > 0 else { return ExportOutcome(rejectedSpans: rejected, message: rejectionMessage) }
            let routes: [BackendPool.Route]
            do {
                routes = try pool.route(pending)
            } catch {
                throw Self.retryable("cannot route: \(error)", retryAfter: nil, rest: pending, delivered: delivered, rejected: rejected, rejectionMessage)
            }
            let results = await sendPieces(routes, headerEdits: headerEdits, timeout: timeout)
            var failed: [TraceData] = []
            var lastError: ExportError?
            var retryNow = false
            for r in results {
                switch r {
                case .delivered(let spans, let rej, let message):
                    delivered += spans - rej
                    rejected += rej
                    if !message.isEmpty { rejectionMessage = message }
                case .rejected(let spans, let message):
                    rejected += spans
                    rejectionMessage = message
                case .failed(let rest, let error, let now):
                    failed.append(rest)
                    lastError = error
                    retryNow = retryNow || now
                }
            }
            guard let lastError else { return ExportOutcome(rejectedSpans: rejected, message: rejectionMessage) }
            pending = TraceData(resourceSpans: failed.flatMap(\.resourceSpans))
            if retryNow && passes < maxPasses { continue }
            var after: Duration?
            if case .retryable(_, let a, _) = lastError { after = a }
            throw Self.retryable("\(lastError)", retryAfter: after, rest: pending, delivered: delivered, rejected: rejected, rejectionMessage)
        }
    }

    private static func retryable(_ message: String, retryAfter: Duration?, rest: TraceData, delivered: Int, rejected: Int,
                                  _ rejectionMessage: String) -> ExportError {
        let partial = delivered > 0 || rejected > 0
            ? PartialDelivery(rest: rest, deliveredSpans: delivered, rejectedSpans: rejected, rejectionMessage: rejectionMessage) : nil
        return .retryable(message, retryAfter: retryAfter, partial: partial)
    }

    private func sendPieces(_ routes: [BackendPool.Route], headerEdits: [HeaderEdit], timeout: Duration?) async -> [PieceResult] {
        var prepared: [(BackendPool.Route, OTLPGRPCLane?, ExportError?)] = []
        for r in routes {
            do { prepared.append((r, try lane(r.backend), nil)) } catch { prepared.append((r, nil, error)) }
        }
        if prepared.count == 1, let (route, lane, error) = prepared.first {
            return [await sendPiece(route, lane, error, headerEdits: headerEdits, timeout: timeout)]
        }
        return await withTaskGroup(of: PieceResult.self) { group in
            for (route, lane, error) in prepared {
                group.addTask { await self.sendPiece(route, lane, error, headerEdits: headerEdits, timeout: timeout) }
            }
            var all: [PieceResult] = []
            for await r in group { all.append(r) }
            return all
        }
    }

    private func sendPiece(_ route: BackendPool.Route, _ lane: OTLPGRPCLane?, _ setupError: ExportError?,
                           headerEdits: [HeaderEdit], timeout: Duration?) async -> PieceResult {
        let spans = route.spanCount
        guard let lane else {
            return .failed(route.data, setupError ?? .retryable("no lane", retryAfter: nil), retryNow: false)
        }
        let started = ContinuousClock.now
        do {
            let outcome = try await lane.send(route.source, selecting: route.selection, headerEdits: headerEdits, timeout: timeout)
            pool.counters.outcome(endpoint: route.name, success: true, milliseconds: Self.milliseconds(since: started))
            pool.recordSuccess(route.backend)
            pool.counters.routed(endpoint: route.name, spans: spans - outcome.rejectedSpans)
            return .delivered(spans: spans, rejected: outcome.rejectedSpans, message: outcome.message)
        } catch {
            pool.counters.outcome(endpoint: route.name, success: false, milliseconds: Self.milliseconds(since: started))
            switch error {
            case .permanent(let message):
                return .rejected(spans: spans, message: "backend \(route.name): \(message)")
            case .retryable(_, let after, _):
                // A throttling answer (a retry delay given) is backpressure, not a dead backend.
                // Otherwise try again at once: the same backend while it is below the failover
                // threshold, its successor once it is down.
                _ = pool.recordFailure(route.backend, countsTowardDown: after == nil)
                return .failed(route.data, error, retryNow: after == nil && pool.failover.enabled)
            }
        }
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}
