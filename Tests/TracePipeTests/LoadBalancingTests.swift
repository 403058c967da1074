import Foundation
import NIOPosix
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// The loadbalancing exporter's parts without a network: the collector's ring (against vectors
/// from an independent implementation), its config and errors, routing with failover and trace
/// affinity, the affinity table's bounds, and the DNS resolver's messages and files.
final class LoadBalancingTests: XCTestCase {
    // MARK: the ring

    struct Vectors: Decodable {
        struct Case: Decodable {
            var endpoints: [String]
            var ring_points: Int
            var trace_ids: [Int]
            var services: [Int]
        }
        var trace_ids: [String]
        var services: [String]
        var cases: [Case]
    }

    func testRingPicksTheCollectorsBackendForEveryVector() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/loadbalancing-vectors.json")
        let v = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
        XCTAssertEqual(v.trace_ids.count, 2000)
        XCTAssertGreaterThanOrEqual(v.cases.count, 6)
        let ids = v.trace_ids.map { hex in TraceID(bytes: stride(from: 0, to: 32, by: 2).map { i in
            UInt8(hex.dropFirst(i).prefix(2), radix: 16)! })! }
        var compared = 0
        for c in v.cases {
            let ring = HashRing(endpoints: c.endpoints)
            for (i, id) in ids.enumerated() {
                let got = ring.owner(ofPoint: ring.point(for: TraceIDBytes(id)))
                XCTAssertEqual(got, c.trace_ids[i], "trace \(v.trace_ids[i]) on \(c.endpoints)")
                compared += 1
            }
            for (i, service) in v.services.enumerated() {
                let got = Array(service.utf8).withUnsafeBytes { ring.endpoint(for: $0) }
                XCTAssertEqual(got, c.services[i], "service \(service.debugDescription) on \(c.endpoints)")
            }
        }
        XCTAssertEqual(compared, 2000 * v.cases.count)
    }

    func testRingWrapsAndWalksToTheNextUpBackend() {
        let ring = HashRing(endpoints: ["a:1", "b:1", "c:1"])
        // A position past the last point belongs to the first point.
        XCTAssertEqual(ring.point(atPosition: UInt32.max), 0)
        XCTAssertEqual(ring.point(atPosition: 0), 0)
        // With "b" down every point owned by b goes to the next owner clockwise, never to b.
        for p in stride(from: 0, to: 36_000, by: 97) {
            let k = ring.point(atPosition: UInt32(p))
            let up = ring.firstUp(fromPoint: k) { $0 != 1 }!
            XCTAssertNotEqual(up, 1)
            if ring.owner(ofPoint: k) != 1 { XCTAssertEqual(up, ring.owner(ofPoint: k)) }
        }
        XCTAssertNil(ring.firstUp(fromPoint: 0) { _ in false })
    }

    // MARK: config

    func load(_ exporter: String) throws -> LoadBalancingExporterConfig {
        let c = try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: """
            receivers: {otlp: {protocols: {grpc: }}}
            exporters:
              loadbalancing:
            \(exporter)
            service: {pipelines: {traces: {receivers: [otlp], exporters: [loadbalancing]}}}
            """)
        return try XCTUnwrap(c.exporters[ComponentID(type: "loadbalancing")]?.config as? LoadBalancingExporterConfig)
    }

    func problems(_ exporter: String) -> [String] {
        do {
            _ = try load(exporter)
            return []
        } catch let e as ConfigErrors {
            return e.errors.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    func testConfigDefaultsAndTheCollectorsForm() throws {
        let c = try load("""
                protocol: {otlp: {timeout: 1s, tls: {insecure: true}}}
                resolver: {static: {hostnames: [gw-2:4317, gw-1:4317, gw-10]}}
            """)
        XCTAssertEqual(c.routingKey, .traceID)
        XCTAssertEqual(c.resolver, .fixed(["gw-10", "gw-1:4317", "gw-2:4317"]), "Go's sort.Strings: byte order")
        XCTAssertEqual(c.helper.timeout, .seconds(1))
        XCTAssertTrue(c.otlp.tls.insecure)
        XCTAssertEqual(c.affinity.window, .seconds(30))
        XCTAssertEqual(c.affinity.maxTraces, 200_000)
        XCTAssertEqual(c.failover.failures, 2)
        XCTAssertTrue(c.otlp.withEndpoint(host: "10.0.0.1", port: 4317).plaintext)

        let d = try load("""
                routing_key: service
                protocol: {otlp: {sending_queue: {queue_size: 77}, retry_on_failure: {initial_interval: 1s, max_interval: 2s}}}
                sending_queue: {queue_size: 5000, num_consumers: 4}
                resolver: {dns: {hostname: gateway.observability.svc.cluster.local, port: 4317, interval: 2s, servers: ["127.0.0.1:5353"]}}
                trace_affinity: {window: 1m, max_traces: 1000}
                failover: {failures: 3, probe_interval: 500ms}
            """)
        XCTAssertEqual(d.routingKey, .service)
        // The top level's queue wins; retry comes from protocol.otlp where the top level has none.
        XCTAssertEqual(d.helper.queue.queueSize, 5000)
        XCTAssertEqual(d.helper.queue.numConsumers, 4)
        XCTAssertEqual(d.helper.retry.initialInterval, .seconds(1))
        guard case .dns(let dns) = d.resolver else { return XCTFail("\(d.resolver)") }
        XCTAssertEqual(dns.port, "4317")
        XCTAssertEqual(dns.interval, .seconds(2))
        XCTAssertEqual(dns.timeout, .seconds(1))
        XCTAssertEqual(dns.servers, ["127.0.0.1:5353"])
        XCTAssertEqual(d.affinity.window, .seconds(60))
        XCTAssertEqual(d.failover.probeInterval, .milliseconds(500))

        // The DNS port left out enters the ring as the bare address, as in the collector.
        let e = try load("""
                protocol: {otlp: }
                resolver: {dns: {hostname: gw}}
            """)
        guard case .dns(let bare) = e.resolver else { return XCTFail() }
        XCTAssertEqual(bare.port, "")
        XCTAssertEqual(bare.interval, .seconds(5))
    }

    func testConfigErrorsNameTheKey() {
        let cases: [(String, String)] = [
            ("protocol: {otlp: }\n    resolver: {static: {hostnames: [a:1]}}\n    routing_key: resource",
             "exporters.loadbalancing.routing_key: \"resource\" is not supported for traces"),
            ("protocol: {otlp: }\n    resolver: {static: {hostnames: [a:1]}}\n    routing_key: traceid",
             "exporters.loadbalancing.routing_key: unsupported routing_key \"traceid\""),
            ("protocol: {otlp: }", "exporters.loadbalancing.resolver: required"),
            ("resolver: {static: {hostnames: [a:1]}}", "exporters.loadbalancing.protocol: required"),
            ("protocol: {otlp: }\n    resolver: {static: {hostnames: [a:1]}, dns: {hostname: b}}",
             "exporters.loadbalancing.resolver: only one resolver may be given, found static and dns"),
            ("protocol: {otlp: }\n    resolver: {k8s: {service: lb.ns}}",
             "exporters.loadbalancing.resolver.k8s: the k8s resolver is not supported by tracepipe: use resolver.dns"),
            ("protocol: {otlp: }\n    resolver: {static: {hostnames: []}}", "exporters.loadbalancing.resolver.static.hostnames: required"),
            ("protocol: {otlp: }\n    resolver: {static: {hostnames: [\"a:1\", \"b:99999\"]}}",
             "exporters.loadbalancing.resolver.static.hostnames[1]: expected host or host:port, got \"b:99999\""),
            ("protocol: {otlp: }\n    resolver: {dns: {port: 4317}}", "exporters.loadbalancing.resolver.dns.hostname: required"),
            ("protocol: {otlp: }\n    resolver: {dns: {hostname: gw, port: http}}",
             "exporters.loadbalancing.resolver.dns.port: expected a port number"),
            ("protocol: {otlp: }\n    resolver: {dns: {hostname: gw, servers: [\"dns.local\"]}}",
             "exporters.loadbalancing.resolver.dns.servers[0]: expected an IP address"),
            ("protocol: {otlphttp: {}}\n    resolver: {dns: {hostname: gw}}",
             "exporters.loadbalancing.protocol.otlphttp: tracepipe's loadbalancing exporter sends OTLP over gRPC only"),
            ("protocol: {otlp: {compression: brotli}}\n    resolver: {dns: {hostname: gw}}",
             "exporters.loadbalancing.protocol.otlp.compression: unsupported compression type"),
            ("protocol: {otlp: }\n    resolver: {dns: {hostname: gw}}\n    failover: {failures: 0}",
             "exporters.loadbalancing.failover.failures: must be at least 1"),
        ]
        for (body, expected) in cases {
            let found = problems("    " + body)
            XCTAssertTrue(found.contains { $0.contains(expected) }, "\(body)\nexpected \(expected)\ngot \(found)")
        }
    }

    // MARK: routing

    func pool(_ endpoints: [String], affinity: LoadBalancingExporterConfig.Affinity = .init(), key: String = "traceID",
              registry: TelemetryRegistry = TelemetryRegistry()) throws -> BackendPool {
        var config = try load("""
                routing_key: \(key)
                protocol: {otlp: {tls: {insecure: true}}}
                resolver: {static: {hostnames: [x:1]}}
            """)
        config.affinity = affinity
        let counters = LoadBalancerCounters(id: ComponentID(type: "loadbalancing"), resolver: "static", registry: registry)
        let p = BackendPool(config: config, group: MultiThreadedEventLoopGroup.singleton, logger: .init(label: "t"), counters: counters)
        p.update(endpoints: endpoints)
        return p
    }

    /// `traces` traces of `spansEach` spans, interleaved, in one request.
    func mixed(traces: Int, spansEach: Int, base: UInt64 = 0) -> TraceData {
        var spans: [Span] = []
        for s in 0..<spansEach {
            for t in 0..<traces {
                spans.append(Span(traceID: TraceID(high: 0x5eed_0000 + base, low: UInt64(t) &* 0x9E37_79B9_7F4A_7C15), spanID: SpanID(UInt64(s * traces + t + 1))))
            }
        }
        return TraceData(resourceSpans: [ResourceSpans(resource: Resource(attributes: [KeyValue("service.name", .string("svc"))]),
                                                      scopeSpans: [ScopeSpans(spans: spans)])])
    }

    /// Backend name per trace id in the routes.
    func destinations(_ routes: [BackendPool.Route]) -> [TraceID: String] {
        var out: [TraceID: String] = [:]
        for r in routes {
            for rs in r.data.resourceSpans {
                for ss in rs.scopeSpans {
                    for s in ss.spans {
                        if let before = out[s.traceID] { XCTAssertEqual(before, r.name, "trace \(s.traceID) split") }
                        out[s.traceID] = r.name
                    }
                }
            }
        }
        return out
    }

    func testEveryTraceGoesWholeToItsRingBackend() throws {
        let endpoints = ["gw-0:4317", "gw-1:4317", "gw-2:4317"]
        let p = try pool(endpoints)
        let data = mixed(traces: 300, spansEach: 4)
        let routes = try p.route(data)
        XCTAssertEqual(routes.count, 3)
        XCTAssertEqual(routes.reduce(0) { $0 + $1.data.spanCount }, 1200)
        let ring = HashRing(endpoints: endpoints)
        for (id, name) in destinations(routes) {
            XCTAssertEqual(name, endpoints[ring.owner(ofPoint: ring.point(for: TraceIDBytes(id)))])
        }
        // One trace: the request is passed on whole.
        let one = try p.route(TestData.request(trace: 7, spans: 5))
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual(one[0].data, TestData.request(trace: 7, spans: 5))
    }

    func testADownBackendsTracesGoToItsSuccessorAndComeBack() throws {
        let endpoints = ["gw-0:4317", "gw-1:4317", "gw-2:4317"]
        let p = try pool(endpoints, affinity: { var a = LoadBalancingExporterConfig.Affinity(); a.maxTraces = 0; return a }())
        let before = destinations(try p.route(mixed(traces: 300, spansEach: 1)))
        XCTAssertEqual(p.recordFailure(1, countsTowardDown: true).down, false)
        XCTAssertEqual(p.recordFailure(1, countsTowardDown: false).down, false, "a throttling answer does not count")
        XCTAssertEqual(p.recordFailure(1, countsTowardDown: true).newlyDown, true)
        XCTAssertEqual(p.downMembers(), [1])
        let during = destinations(try p.route(mixed(traces: 300, spansEach: 1)))
        let ring = HashRing(endpoints: endpoints)
        for (id, name) in during {
            XCTAssertNotEqual(name, "gw-1:4317")
            if before[id] != "gw-1:4317" { XCTAssertEqual(name, before[id], "only the down backend's traces move") }
            let k = ring.point(for: TraceIDBytes(id))
            XCTAssertEqual(name, endpoints[ring.firstUp(fromPoint: k) { $0 != 1 }!])
        }
        p.markUp(1)
        XCTAssertEqual(destinations(try p.route(mixed(traces: 300, spansEach: 1))), before)
        _ = p.recordFailure(0, countsTowardDown: true); _ = p.recordFailure(0, countsTowardDown: true)
        _ = p.recordFailure(1, countsTowardDown: true); _ = p.recordFailure(1, countsTowardDown: true)
        _ = p.recordFailure(2, countsTowardDown: true); _ = p.recordFailure(2, countsTowardDown: true)
        XCTAssertThrowsError(try p.route(mixed(traces: 3, spansEach: 1))) { XCTAssertEqual("\($0)", "all 3 backends are marked down") }
    }

    func testMembershipChangesMoveOnlyNewTracesWhileAffinityHolds() throws {
        let registry = TelemetryRegistry()
        let p = try pool(["gw-0:4317", "gw-1:4317", "gw-2:4317"], registry: registry)
        let old = mixed(traces: 400, spansEach: 1, base: 1)
        let first = destinations(try p.route(old))
        // gw-1 leaves, gw-3 joins.
        XCTAssertTrue(p.update(endpoints: ["gw-0:4317", "gw-2:4317", "gw-3:4317"]))
        XCTAssertFalse(p.update(endpoints: ["gw-0:4317", "gw-2:4317", "gw-3:4317"]), "the same list is no change")
        // Every trace in flight keeps its backend, the one that left included while it answers
        // (a Pod leaves its Service before it stops).
        XCTAssertEqual(destinations(try p.route(old)), first)
        // Once the departed backend fails, its traces go to their owner on the new ring.
        _ = p.recordFailure(1, countsTowardDown: true)
        XCTAssertTrue(p.recordFailure(1, countsTowardDown: true).newlyDown)
        XCTAssertEqual(p.downMembers(), [], "a backend that left is not probed")
        let newRing = HashRing(endpoints: ["gw-0:4317", "gw-2:4317", "gw-3:4317"])
        var moved = 0
        for (id, name) in destinations(try p.route(old)) {
            if first[id] == "gw-1:4317" {
                XCTAssertEqual(name, newRing.endpoints[newRing.owner(ofPoint: newRing.point(for: TraceIDBytes(id)))])
                moved += 1
            } else {
                XCTAssertEqual(name, first[id], "a trace in flight keeps its backend")
            }
        }
        XCTAssertGreaterThan(moved, 50)
        // New traces follow the new ring.
        for (id, name) in destinations(try p.route(mixed(traces: 400, spansEach: 1, base: 2))) {
            XCTAssertEqual(name, newRing.endpoints[newRing.owner(ofPoint: newRing.point(for: TraceIDBytes(id)))])
        }
        XCTAssertGreaterThan(registry.sample("tracepipe_loadbalancer_rerouted_spans", [("exporter", "loadbalancing"), ("reason", "affinity")]) ?? 0, 0)
        XCTAssertEqual(registry.sample("otelcol_loadbalancer_num_backend_updates", [("exporter", "loadbalancing"), ("resolver", "static")]), 2)
        XCTAssertEqual(registry.sample("tracepipe_loadbalancer_backend_up", [("exporter", "loadbalancing"), ("endpoint", "gw-1:4317")]), -1)
    }

    func testServiceRoutingSendsEachResourceByItsServiceName() throws {
        let p = try pool(["gw-0:4317", "gw-1:4317", "gw-2:4317"], key: "service")
        var data = TraceData()
        for svc in ["frontend", "checkout", "cart", "payment", "frontend"] { data.append(TestData.request(trace: 1, spans: 2, service: svc)) }
        let routes = try p.route(data)
        let ring = HashRing(endpoints: ["gw-0:4317", "gw-1:4317", "gw-2:4317"])
        XCTAssertEqual(routes.reduce(0) { $0 + $1.data.spanCount }, 10)
        for r in routes {
            for rs in r.data.resourceSpans {
                let svc = rs.resource.attributes[attribute: "service.name"]!.stringValue!
                XCTAssertEqual(r.name, ring.endpoints[Array(svc.utf8).withUnsafeBytes { ring.endpoint(for: $0) }])
            }
        }
    }

    // MARK: the affinity table

    func testAffinityExpiresAfterItsWindowAndStaysWithinCapacity() {
        var t = TraceAffinity(windowSeconds: 30, capacity: 3)
        let ids = (1...5).map { TraceID(high: 1, low: UInt64($0)) }
        t.record(ids[0], backend: 0, now: 0)
        t.record(ids[1], backend: 1, now: 10)
        t.record(ids[0], backend: 0, now: 20)  // routed again: lives to 50
        t.expire(now: 39)
        XCTAssertEqual(t.backend(of: ids[1]), 1)
        t.expire(now: 40)
        XCTAssertNil(t.backend(of: ids[1]), "not routed for 30 s")
        XCTAssertEqual(t.backend(of: ids[0]), 0)
        t.record(ids[2], backend: 2, now: 41)
        t.record(ids[3], backend: 2, now: 42)
        t.record(ids[4], backend: 2, now: 43)  // over capacity: the least recently routed (ids[0]) goes
        XCTAssertEqual(t.count, 3)
        XCTAssertNil(t.backend(of: ids[0]))
        XCTAssertEqual(t.evictedEarly, 1)
        t.expire(now: 100)
        XCTAssertEqual(t.count, 0)
    }

    func testPartitionKeepsResourcesScopesAndOrder() {
        let data = mixed(traces: 3, spansEach: 3)
        let spans = data.resourceSpans[0].scopeSpans[0].spans
        let pieces = data.partitioned(into: 3, assignments: spans.map { UInt16($0.traceID.low % 3) })
        XCTAssertEqual(data.partitioned(into: 2, assignments: spans.map { _ in 1 })[1], data, "one piece: the data whole")
        XCTAssertEqual(pieces.map(\.spanCount).reduce(0, +), 9)
        for (i, piece) in pieces.enumerated() where piece.spanCount > 0 {
            XCTAssertEqual(piece.resourceSpans.count, 1)
            XCTAssertEqual(piece.resourceSpans[0].resource, data.resourceSpans[0].resource)
            let spans = piece.resourceSpans[0].scopeSpans[0].spans
            XCTAssertTrue(spans.allSatisfy { Int($0.traceID.low % 3) == i })
            XCTAssertEqual(spans.map(\.spanID), spans.map(\.spanID).sorted { $0.value < $1.value })
        }
    }

    // MARK: DNS

    func testDNSQueryAndAnswer() throws {
        let q = try XCTUnwrap(DNSMessage.query(id: 0x1234, name: "gw.obs.svc", type: .a))
        XCTAssertEqual(Array(q.prefix(12)), [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])
        XCTAssertEqual(Array(q[12..<24]), [2, 0x67, 0x77, 3, 0x6F, 0x62, 0x73, 3, 0x73, 0x76, 0x63, 0])
        XCTAssertNil(DNSMessage.query(id: 1, name: String(repeating: "a", count: 64) + ".x", type: .a))
        // An answer: the question, a CNAME, then two A records whose names are compression pointers.
        var a: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0]
        a += q[12..<28]
        a += [0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 30, 0, 2, 0xC0, 12]
        a += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 42, 0, 7]
        a += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 42, 1, 9]
        let parsed = try DNSMessage.parse(a)
        XCTAssertEqual(parsed.id, 0x1234)
        XCTAssertEqual(parsed.responseCode, 0)
        XCTAssertEqual(parsed.addresses.compactMap(IPAddressText.text), ["10.42.0.7", "10.42.1.9"])
        XCTAssertThrowsError(try DNSMessage.parse(Array(a.prefix(40))))
        XCTAssertEqual(IPAddressText.text(IPAddressText.bytes("fd00:0:0:0:0:0:0:1")!), "fd00::1")
        XCTAssertEqual(IPAddressText.text(IPAddressText.bytes("::ffff:10.1.2.3")!), "10.1.2.3")
    }

    func testResolverFilesFollowResolvConfSearchRules() {
        var f = ResolverFiles()
        f.readResolvConf("""
            # a Pod's resolv.conf
            nameserver 10.96.0.10
            nameserver [fd00::a]:5353
            search observability.svc.cluster.local svc.cluster.local cluster.local
            options ndots:5 timeout:1
            """)
        f.readHosts("127.0.0.1 localhost\n10.0.0.9 gw-static gw-alias # comment\nnot-an-ip name\n")
        XCTAssertEqual(f.nameservers.map(\.description), ["10.96.0.10:53"], "the bracketed form is not resolv.conf syntax")
        XCTAssertEqual(f.ndots, 5)
        XCTAssertEqual(f.candidates(for: "gateway"), ["gateway.observability.svc.cluster.local", "gateway.svc.cluster.local",
                                                       "gateway.cluster.local", "gateway"])
        XCTAssertEqual(f.candidates(for: "gateway.observability.svc.cluster.local.").first, "gateway.observability.svc.cluster.local")
        f.ndots = 1
        XCTAssertEqual(f.candidates(for: "gw.example").first, "gw.example")
        XCTAssertEqual(f.hosts["gw-alias"], ["10.0.0.9"])
        XCTAssertNil(f.hosts["name"])
        XCTAssertEqual(DNSServerAddress("[::1]:53")?.port, 53)
        XCTAssertEqual(DNSServerAddress("127.0.0.1:5353")?.port, 5353)
        XCTAssertNil(DNSServerAddress("localhost:53"))
    }

    func testBackendAddresses() {
        XCTAssertEqual(BackendAddress(endpoint: "gw-1:4317"), BackendAddress(endpoint: "gw-1:4317"))
        XCTAssertEqual(BackendAddress(endpoint: "gw-1")?.port, 4317)
        XCTAssertEqual(BackendAddress(endpoint: "[fd00::1]:55690")?.host, "fd00::1")
        XCTAssertEqual(BackendAddress(endpoint: "10.42.0.7")?.port, 4317)
        XCTAssertNil(BackendAddress(endpoint: "fd00::1"))
        XCTAssertNil(BackendAddress(endpoint: "http://gw:4317"))
        XCTAssertNil(BackendAddress(endpoint: ":4317"))
    }
}
