import Foundation
import GRPCCore
import TestSupport
import TraceModel
import XCTest

/// A gateway tier of real tracepipe processes on loopback: agents with the loadbalancing
/// exporter in front of gateways, clients sending each trace's spans through different agents,
/// and an in-test Tempo that records which gateway delivered what (each gateway's exporter adds
/// an `x-gateway` header).
final class LoadBalancingEndToEndTests: XCTestCase {
    final class Tier: @unchecked Sendable {
        let dir: URL
        let tempo: FakeGRPCTempo
        var gateways: [String: TracePipeProcess] = [:]
        var agents: [TracePipeProcess] = []
        var agentPorts: [(otlp: Int, metrics: Int)] = []

        init(tempo: FakeGRPCTempo) throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-lb-\(UUID())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            self.tempo = tempo
        }

        deinit {
            for p in agents + Array(gateways.values) where p.process.isRunning { kill(p.process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: dir)
        }

        /// A gateway: OTLP/gRPC in on host:port, optional tail sampling, otlp out to the fake
        /// Tempo, with a persistent queue when `durable`.
        func startGateway(_ name: String, host: String = "127.0.0.1", port: Int, tail: Bool, durable: Bool = false) throws {
            let health = TestHTTPClient.freePort()
            let storage = dir.appendingPathComponent("queue-\(name)").path
            let path = dir.appendingPathComponent("gateway-\(name).yaml").path
            try """
                extensions:
                  health_check: {endpoint: "127.0.0.1:\(health)"}
                  file_storage: {directory: "\(storage)", create_directory: true}
                receivers: {otlp: {protocols: {grpc: {endpoint: "\(host):\(port)"}}}}
                processors:
                  tail_sampling:
                    decision_wait: 1s
                    num_traces: 100000
                    policies:
                      - {name: errors, type: status_code, status_code: {status_codes: [ERROR]}}
                      - {name: some, type: probabilistic, probabilistic: {sampling_percentage: 20}}
                exporters:
                  otlp:
                    endpoint: "127.0.0.1:\(tempo.port)"
                    tls: {insecure: true}
                    headers: {x-gateway: "\(name)"}
                    retry_on_failure: {initial_interval: 100ms, max_interval: 500ms}
                    \(durable ? "sending_queue: {storage: file_storage}" : "")
                service:
                  extensions: [health_check\(durable ? ", file_storage" : "")]
                  pipelines: {traces: {receivers: [otlp], processors: [\(tail ? "tail_sampling" : "")], exporters: [otlp]}}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            if !durable { try? FileManager.default.removeItem(atPath: storage) }
            let p = try TracePipeProcess(arguments: ["--config", path])
            try p.waitHealthy(port: health)
            gateways[name] = p
        }

        /// An agent: OTLP/HTTP in, loadbalancing out with `resolver` (YAML); its queue on disk
        /// in `queueDirectory` when given.
        func startAgent(resolver: String, queueDirectory: String? = nil) throws {
            let otlp = TestHTTPClient.freePort(), health = TestHTTPClient.freePort(), metrics = TestHTTPClient.freePort()
            let path = dir.appendingPathComponent("agent-\(agents.count).yaml").path
            let storage = queueDirectory.map { "file_storage: {directory: \"\($0)\", create_directory: true}" } ?? ""
            try """
                extensions: {health_check: {endpoint: "127.0.0.1:\(health)"}, \(storage)}
                receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:\(otlp)"}}}}
                exporters:
                  loadbalancing:
                    protocol: {otlp: {tls: {insecure: true}, timeout: 2s}}
                    resolver: \(resolver)
                    sending_queue: {queue_size: 100000\(queueDirectory == nil ? "" : ", storage: file_storage")}
                    retry_on_failure: {initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0}
                    failover: {probe_interval: 200ms}
                service:
                  extensions: [health_check\(queueDirectory == nil ? "" : ", file_storage")]
                  telemetry: {metrics: {level: normal, readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: \(metrics)}}}}]}}
                  pipelines: {traces: {receivers: [otlp], exporters: [loadbalancing]}}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            let p = try TracePipeProcess(arguments: ["--config", path], ownMetrics: true)
            try p.waitHealthy(port: health)
            agents.append(p)
            agentPorts.append((otlp, metrics))
        }

        func metric(agent: Int, _ series: String) -> Double {
            guard let text = try? TestHTTPClient.request(port: agentPorts[agent].metrics, path: "/metrics").text else { return -1 }
            return text.split(separator: "\n").filter { $0.hasPrefix(series + " ") }.compactMap { Double($0.split(separator: " ").last!) }.first ?? 0
        }

        /// Waits until every span of `acked` reached Tempo (at most `timeout`); returns how many
        /// never did.
        func unarrived(_ acked: Set<SpanID>, timeout: Duration = .seconds(30)) async -> Int {
            await tempo.wait(timeout: timeout) { t in Set(t.spans.map(\.spanID)).isSuperset(of: acked) }
            return acked.subtracting(tempo.spans.map(\.spanID)).count
        }

        /// Which gateway delivered each span, by trace: gateway name → span ids.
        func deliveries() -> [TraceID: [String: Set<SpanID>]] {
            var out: [TraceID: [String: Set<SpanID>]] = [:]
            for r in tempo.received {
                let gateway = r.metadata["x-gateway"].compactMap { v -> String? in if case .string(let s) = v { return s } else { return nil } }.first ?? "?"
                for rs in r.data?.resourceSpans ?? [] {
                    for ss in rs.scopeSpans {
                        for s in ss.spans { out[s.traceID, default: [:]][gateway, default: []].insert(s.spanID) }
                    }
                }
            }
            return out
        }
    }

    /// Trace `n`: 4 spans; span 3 an error when `error`.
    static func trace(_ n: UInt64, error: Bool) -> [Span] {
        var z = n &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        let id = TraceID(high: z ^ (z >> 27), low: n)
        var spans: [Span] = []
        for i in 0..<4 {
            let kind: SpanKind = i == 0 ? .server : .internal
            let code: StatusCode = error && i == 3 ? .error : .unset
            let spanID = SpanID(n << 8 | UInt64(i + 1))
            spans.append(Span(traceID: id, spanID: spanID, name: "op-\(i)", kind: kind, startTimeUnixNano: 1_700_000_000_000_000_000,
                              endTimeUnixNano: 1_700_000_000_005_000_000, status: SpanStatus(code: code)))
        }
        return spans
    }

    static func request(_ spans: [Span]) -> [UInt8] {
        OTLPProtobufEncoder.encode(TraceData(resourceSpans: [ResourceSpans(
            resource: Resource(attributes: [KeyValue("service.name", .string("shop"))]), scopeSpans: [ScopeSpans(spans: spans)])]))
    }

    /// `threads` clients, each sending `tracesEach` traces in requests of 8 traces: the first two
    /// spans of each trace to one agent, the other two to the other. Returns the spans that
    /// were acknowledged (200) and how many requests were refused.
    /// What the clients saw, gathered from several threads.
    final class Sent: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var acked = Set<SpanID>()
        private(set) var errorTraces = Set<TraceID>()
        private(set) var refused = 0
        private(set) var tracesDone = 0
        let done = DispatchGroup()

        func ack(_ spans: [Span]) { lock.withLock { acked.formUnion(spans.map(\.spanID)) } }
        func refuse() { lock.withLock { refused += 1 } }
        func finished(_ group: [[Span]]) {
            lock.withLock {
                for s in group where s[3].status.code == .error { errorTraces.insert(s[0].traceID) }
                tracesDone += group.count
            }
        }
        var progress: Int { lock.withLock { tracesDone } }

        /// Waits (polling) until the clients have sent `traces` traces.
        func reach(_ traces: Int) async {
            while progress < traces { try? await Task.sleep(for: .milliseconds(5)) }
        }

        func wait() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in done.notify(queue: .global()) { c.resume() } }
        }
    }

    /// `threads` clients on threads of their own, each sending `tracesEach` traces in requests
    /// of 8 traces. `acrossAgents`: each trace's first two spans go to one agent and the other
    /// two to the other; else both halves to the thread's agent (threads alternate agents). A
    /// refused request (503) is retried, as an SDK does.
    static func startSending(tier: Tier, threads: Int, tracesEach: Int, firstTrace: UInt64, errorEvery: UInt64 = 10,
                             acrossAgents: Bool = true) -> Sent {
        let sent = Sent()
        for t in 0..<threads {
            sent.done.enter()
            Thread.detachNewThread {
                defer { sent.done.leave() }
                var n = firstTrace + UInt64(t * tracesEach)
                let end = n + UInt64(tracesEach)
                while n < end {
                    let group = (0..<UInt64(8)).map { k in trace(n + k, error: (n + k) % errorEvery == 0) }
                    n += 8
                    for (half, agent) in [(0..<2, t % 2), (2..<4, acrossAgents ? (t + 1) % 2 : t % 2)] {
                        let spans = group.flatMap { Array($0[half]) }
                        let body = request(spans)
                        for _ in 0..<100 {
                            let r = try? TestHTTPClient.request(port: tier.agentPorts[agent].otlp, method: "POST", path: "/v1/traces",
                                                                headers: ["Content-Type": "application/x-protobuf"], body: body)
                            if r?.status == 200 {
                                sent.ack(spans)
                                break
                            }
                            sent.refuse()
                            Thread.sleep(forTimeInterval: 0.05)
                        }
                    }
                    sent.finished(group)
                }
            }
        }
        return sent
    }

    // MARK: the tests

    func testTwoAgentsThreeTailSamplingGatewaysDecideEachTraceWholeOnOneGateway() async throws {
        let tempo = try await FakeGRPCTempo.start()
        let tier = try Tier(tempo: tempo)
        let ports = (0..<3).map { _ in TestHTTPClient.freePort() }
        for (i, port) in ports.enumerated() { try tier.startGateway("gw-\(i)", port: port, tail: true) }
        let hostnames = ports.map { "127.0.0.1:\($0)" }.joined(separator: ", ")
        for _ in 0..<2 { try tier.startAgent(resolver: "{static: {hostnames: [\(hostnames)]}}") }

        let sent = Self.startSending(tier: tier, threads: 4, tracesEach: 400, firstTrace: 1)
        await sent.wait()
        XCTAssertEqual(sent.acked.count, 4 * 400 * 4, "every request acknowledged")
        // Every error trace is kept: wait until all reached Tempo (decision_wait is 1 s).
        let complete = await tempo.wait(timeout: .seconds(30)) { _ in
            let d = tier.deliveries()
            return sent.errorTraces.allSatisfy { id in (d[id]?.values.reduce(0) { $0 + $1.count } ?? 0) == 4 }
        }
        XCTAssertTrue(complete, "error traces missing: \(sent.errorTraces.filter { (tier.deliveries()[$0]?.count ?? 0) == 0 }.count) of \(sent.errorTraces.count)")
        try await Task.sleep(for: .seconds(2))
        let d = tier.deliveries()
        var perGateway: [String: Int] = [:]
        for (id, byGateway) in d {
            XCTAssertEqual(byGateway.count, 1, "trace \(id) decided on \(byGateway.keys.sorted())")
            let spans = byGateway.values.reduce(0) { $0 + $1.count }
            XCTAssertEqual(spans, 4, "trace \(id) kept with \(spans) of its 4 spans")
            perGateway[byGateway.keys.first!, default: 0] += 1
        }
        XCTAssertEqual(Set(perGateway.keys), ["gw-0", "gw-1", "gw-2"], "every gateway got a share: \(perGateway)")
        // The sampled share: errors (10 %) plus about 20 % of the rest.
        XCTAssertGreaterThan(d.count, sent.errorTraces.count + 100)
        for a in 0..<2 {
            XCTAssertEqual(tier.metric(agent: a, #"otelcol_loadbalancer_num_backends{exporter="loadbalancing",resolver="static"}"#), 3)
        }
        for p in tier.agents + Array(tier.gateways.values) { XCTAssertEqual(p.terminate(), 0, p.log) }
        await tempo.stop()
    }

    /// dnsmasq on a loopback port answers the gateways' name; the test changes the answer
    /// mid-stream (a gateway added, then one removed and stopped). Gateways listen on 127.0.0.2-4
    /// (loopback addresses: DNS gives addresses, and every gateway must use the same port).
    func testMembershipThroughRealDNSLosesNothingAndSplitsNoTrace() async throws {
        let dnsmasq = try DNSMasq.start()
        defer { dnsmasq.stop() }
        let tempo = try await FakeGRPCTempo.start()
        let tier = try Tier(tempo: tempo)
        let port = TestHTTPClient.freePort()
        let name = "gateways.tracepipe.test"
        try dnsmasq.answer(name, with: ["127.0.0.2", "127.0.0.3"])
        for (gw, host) in [("gw-a", "127.0.0.2"), ("gw-b", "127.0.0.3"), ("gw-c", "127.0.0.4")] {
            try tier.startGateway(gw, host: host, port: port, tail: false)
        }
        let resolver = "{dns: {hostname: \(name), port: \(port), interval: 100ms, timeout: 1s, servers: [\"127.0.0.1:\(dnsmasq.port)\"]}}"
        for _ in 0..<2 { try tier.startAgent(resolver: resolver) }
        let sent = Self.startSending(tier: tier, threads: 4, tracesEach: 800, firstTrace: 1, acrossAgents: false)
        func note(_ m: String) { FileHandle.standardError.write(Data("[dns test] \(Date()) \(m)\n".utf8)) }
        await sent.reach(600)
        note("add gw-c")
        try dnsmasq.answer(name, with: ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
        await sent.reach(1600)
        note("remove gw-b")
        try dnsmasq.answer(name, with: ["127.0.0.2", "127.0.0.4"])
        // gw-b is stopped a while after it left the answer, as Kubernetes stops a Pod after
        // taking it out of the Service.
        await sent.reach(2400)
        note("stop gw-b")
        XCTAssertEqual(tier.gateways["gw-b"]!.terminate(), 0)
        note("wait for clients")
        await sent.wait()
        note("clients done")
        XCTAssertEqual(sent.acked.count, 4 * 800 * 4)
        let lost = await tier.unarrived(sent.acked)
        XCTAssertEqual(lost, 0, "acknowledged spans never arrived")
        note("arrived")
        var perGateway: [String: Int] = [:]
        for (id, byGateway) in tier.deliveries() {
            XCTAssertEqual(byGateway.count, 1, "trace \(id) split across \(byGateway.keys.sorted())")
            for g in byGateway.keys { perGateway[g, default: 0] += 1 }
        }
        XCTAssertEqual(Set(perGateway.keys), ["gw-a", "gw-b", "gw-c"], "\(perGateway)")
        for a in 0..<2 {
            XCTAssertGreaterThanOrEqual(tier.metric(agent: a, #"otelcol_loadbalancer_num_backend_updates{exporter="loadbalancing",resolver="dns"}"#), 3)
            XCTAssertEqual(tier.metric(agent: a, #"otelcol_loadbalancer_num_backends{exporter="loadbalancing",resolver="dns"}"#), 2)
            XCTAssertEqual(tier.metric(agent: a, #"tracepipe_loadbalancer_backend_up{exporter="loadbalancing",endpoint="127.0.0.3:\#(port)"}"#), -1)
            let log = tier.agents[a].log
            XCTAssertTrue(log.contains("loadbalancing backends changed") && log.contains("127.0.0.4:\(port)") , log)
        }
        for p in tier.agents { XCTAssertEqual(p.terminate(), 0, p.log) }
        for p in tier.gateways.values where p.process.isRunning { _ = p.terminate() }
        await tempo.stop()
    }

    /// A headless Service with 300 Pods: dnsmasq cuts the UDP answer (at 75 addresses) and the
    /// resolver asks again over TCP, so the ring has all 300 backends.
    func testALargeDNSAnswerIsReadOverTCP() async throws {
        let dnsmasq = try DNSMasq.start()
        defer { dnsmasq.stop() }
        let tempo = try await FakeGRPCTempo.start()
        let tier = try Tier(tempo: tempo)
        let addresses = (0..<300).map { "10.77.\($0 / 200).\($0 % 200 + 1)" }
        try dnsmasq.answer("big.tracepipe.test", with: addresses)
        try tier.startAgent(resolver: "{dns: {hostname: big.tracepipe.test, port: 4317, servers: [\"127.0.0.1:\(dnsmasq.port)\"]}}")
        let backends = #"otelcol_loadbalancer_num_backends{exporter="loadbalancing",resolver="dns"}"#
        let all = await eventually(timeout: .seconds(10)) { tier.metric(agent: 0, backends) == 300 }
        XCTAssertTrue(all, "backends: \(tier.metric(agent: 0, backends))\n\(tier.agents[0].log)")
        XCTAssertEqual(tier.agents[0].terminate(), 0)
        await tempo.stop()
    }

    /// The agent's queue holds requests before routing, on disk: an agent killed while no
    /// gateway answers, restarted with one gateway gone from its list, sends everything to the
    /// gateway that is left (routed after the restart, not before the kill).
    func testAPersistentQueueIsRoutedAfterAKillByTheMembershipOfThen() async throws {
        let tempo = try await FakeGRPCTempo.start()
        let tier = try Tier(tempo: tempo)
        let (gone, kept) = (TestHTTPClient.freePort(), TestHTTPClient.freePort())
        let queue = tier.dir.appendingPathComponent("agent-queue").path
        try tier.startAgent(resolver: "{static: {hostnames: [127.0.0.1:\(gone), 127.0.0.1:\(kept)]}}", queueDirectory: queue)
        var acked = Set<SpanID>()
        for k in 0..<40 {
            let spans = (0..<5).flatMap { j in Self.trace(UInt64(k * 5 + j + 1), error: false) }
            let r = try TestHTTPClient.request(port: tier.agentPorts[0].otlp, method: "POST", path: "/v1/traces",
                                               headers: ["Content-Type": "application/x-protobuf"], body: Self.request(spans))
            XCTAssertEqual(r.status, 200)
            acked.formUnion(spans.map(\.spanID))
        }
        kill(tier.agents[0].process.processIdentifier, SIGKILL)
        _ = tier.agents[0].waitExit()
        try tier.startGateway("kept", port: kept, tail: false)
        try tier.startAgent(resolver: "{static: {hostnames: [127.0.0.1:\(kept)]}}", queueDirectory: queue)
        let lost = await tier.unarrived(acked)
        XCTAssertEqual(lost, 0, "of \(acked.count) acknowledged spans, these never arrived")
        XCTAssertEqual(Set(tier.deliveries().values.flatMap(\.keys)), ["kept"])
        XCTAssertEqual(tier.agents[1].terminate(), 0, tier.agents[1].log)
        for p in tier.gateways.values { _ = p.terminate() }
        await tempo.stop()
    }

    func testAGatewayKilledAndRestartedLosesNoAcknowledgedSpan() async throws {
        let tempo = try await FakeGRPCTempo.start()
        let tier = try Tier(tempo: tempo)
        let ports = (0..<3).map { _ in TestHTTPClient.freePort() }
        for (i, port) in ports.enumerated() { try tier.startGateway("gw-\(i)", port: port, tail: false, durable: true) }
        let hostnames = ports.map { "127.0.0.1:\($0)" }.joined(separator: ", ")
        for _ in 0..<2 { try tier.startAgent(resolver: "{static: {hostnames: [\(hostnames)]}}") }

        let sent = Self.startSending(tier: tier, threads: 4, tracesEach: 480, firstTrace: 1)
        await sent.reach(400)
        kill(tier.gateways["gw-1"]!.process.processIdentifier, SIGKILL)
        await sent.reach(1000)
        try tier.startGateway("gw-1", port: ports[1], tail: false, durable: true)
        await sent.wait()
        XCTAssertEqual(sent.acked.count, 4 * 480 * 4)
        let lost = await tier.unarrived(sent.acked, timeout: .seconds(40))
        XCTAssertEqual(lost, 0, "acknowledged spans never arrived")
        let arrived = Set(tempo.spans.map(\.spanID))
        let duplicates = tempo.spans.count - arrived.count
        print("gateway kill: \(sent.acked.count) spans acknowledged, all arrived, \(duplicates) duplicates")
        // The agents failed over, then found gw-1 up again and sent it new traces.
        var rerouted = 0.0
        for a in 0..<2 {
            rerouted += tier.metric(agent: a, #"tracepipe_loadbalancer_rerouted_spans{exporter="loadbalancing",reason="backend_down"}"#)
            XCTAssertEqual(tier.metric(agent: a, #"tracepipe_loadbalancer_backend_up{exporter="loadbalancing",endpoint="127.0.0.1:\#(ports[1])"}"#), 1)
        }
        XCTAssertGreaterThan(rerouted, 0)
        let afterRestart = tempo.received.filter { r in r.metadata["x-gateway"].contains { if case .string("gw-1") = $0 { return true } else { return false } } }
        XCTAssertFalse(afterRestart.isEmpty)
        for p in tier.agents { XCTAssertEqual(p.terminate(), 0, p.log) }
        for p in tier.gateways.values { _ = p.terminate() }
        await tempo.stop()
    }
}

/// A dnsmasq serving a hosts directory on a loopback port, installed with apt when missing (the
/// test skips with the reason when it cannot be). dnsmasq re-reads the directory by itself
/// (inotify): the test process may have signals such as SIGHUP and SIGTERM blocked, which its
/// children inherit, so it is neither reloaded nor stopped by those (stopped with SIGKILL).
final class DNSMasq: @unchecked Sendable {
    /// Spawned with posix_spawn, not Foundation's Process: the test reaps it itself (Foundation
    /// stopped noticing other children exit while it watched this one).
    private(set) var pid: pid_t = 0
    let port: Int
    let dir: URL
    var hostsDir: URL { dir.appendingPathComponent("hosts.d") }

    static func binary() throws -> String {
        for p in ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        let install = Process()
        install.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // dnsmasq-base: the program without the system service (which would take port 53).
        install.arguments = ["apt-get", "install", "-y", "-q", "dnsmasq-base"]
        install.environment = ["DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        install.standardOutput = FileHandle.nullDevice
        install.standardError = FileHandle.nullDevice
        try? install.run()
        install.waitUntilExit()
        for p in ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        throw XCTSkip("dnsmasq is not installed and `apt-get install dnsmasq-base` failed (needs root and the Debian mirror)")
    }

    private init(binary: String) throws {
        port = TestHTTPClient.freePort()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-dnsmasq-\(UUID())")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("hosts.d"), withIntermediateDirectories: true)
        let args = [binary, "--keep-in-foreground", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                    "--hostsdir=\(hostsDir.path)", "--no-negcache", "--pid-file", "--log-facility=/dev/null", "--user=root"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawn(&pid, binary, nil, nil, &argv, environ)
        guard rc == 0 else { throw XCTSkip("cannot start dnsmasq: posix_spawn error \(rc)") }
    }

    static func start() throws -> DNSMasq {
        let d = try DNSMasq(binary: try binary())
        Thread.sleep(forTimeInterval: 0.3)
        var status: Int32 = 0
        guard waitpid(d.pid, &status, WNOHANG) == 0 else { throw XCTSkip("dnsmasq did not start on 127.0.0.1:\(d.port)") }
        return d
    }

    /// Makes `name` answer `addresses` (A records): the hosts file is replaced in one rename,
    /// which dnsmasq notices (inotify) and reads.
    func answer(_ name: String, with addresses: [String]) throws {
        let staged = dir.appendingPathComponent("hosts.next")
        try addresses.map { "\($0) \(name)\n" }.joined().write(to: staged, atomically: false, encoding: .utf8)
        guard rename(staged.path, hostsDir.appendingPathComponent("hosts").path) == 0 else {
            throw TestHTTPClient.Failure(description: "cannot replace the dnsmasq hosts file: errno \(errno)")
        }
        Thread.sleep(forTimeInterval: 0.2)
    }

    func stop() {
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            pid = 0
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
