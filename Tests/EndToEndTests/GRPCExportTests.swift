import Foundation
import GRPCCore
import TestSupport
import TraceModel
import TracePipe
import XCTest

/// OTLP/gRPC through the real binary: a gRPC client → tracepipe's grpc receiver → the otlp
/// exporter → a fake gRPC Tempo. Delivery, retries by code, RetryInfo, TLS and its failures.
final class GRPCExportTests: XCTestCase {
    var dir: URL!
    var grpcPort = 0
    var healthPort = 0
    var metricsPort = 0

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-grpc-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        grpcPort = TestHTTPClient.freePort()
        healthPort = TestHTTPClient.freePort()
        metricsPort = TestHTTPClient.freePort()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// tracepipe with the gRPC receiver on this test's port and `exporter` (indented YAML lines)
    /// as the body of the `otlp` exporter.
    func start(_ exporter: String) throws -> TracePipeProcess {
        let path = dir.appendingPathComponent("config-\(UUID()).yaml").path
        try """
            extensions:
              health_check:
                endpoint: 127.0.0.1:\(healthPort)
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: 127.0.0.1:\(grpcPort)
            exporters:
              otlp:
            \(exporter)
            service:
              extensions: [health_check]
              telemetry:
                metrics:
                  address: 127.0.0.1:\(metricsPort)
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [otlp]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path], ownMetrics: true)
        try tp.waitHealthy(port: healthPort)
        return tp
    }

    func send(_ data: TraceData) async throws -> Result<ExportTraceResponse, RPCError> {
        try await TestGRPCClient.export(OTLPProtobufEncoder.encode(data), port: grpcPort)
    }

    func metric(_ series: String) throws -> Double? {
        let text = try TestHTTPClient.request(port: metricsPort, path: "/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func testEveryFieldArrivesWithTheTenantHeaderAsMetadata() async throws {
        let tempo = try await FakeGRPCTempo.start()
        let tp = try start("""
                endpoint: 127.0.0.1:\(tempo.port)
                tls: {insecure: true}
                keepalive: {time: 1s, timeout: 5s, permit_without_stream: true}
                headers:
                  X-Scope-OrgID: tenant-a
            """)
        _ = try await send(TestData.allFields).get()
        let arrived = await tempo.wait { $0.received.count >= 1 }
        XCTAssertTrue(arrived, tp.log)
        // Keepalive pings on the idle connection are answered; it stays usable.
        try await Task.sleep(for: .milliseconds(2500))
        _ = try await send(TestData.request(trace: 99, spans: 1)).get()
        let again = await tempo.wait { $0.received.count >= 2 }
        XCTAssertTrue(again, tp.log)
        XCTAssertFalse(tp.log.contains("export failed"), tp.log)
        XCTAssertEqual(tempo.received.first?.data, TestData.allFields)
        XCTAssertEqual(tempo.received.first?.metadata[stringValues: "x-scope-orgid"].map { $0 }, ["tenant-a"],
                       "headers travel as lower-case gRPC metadata")
        XCTAssertEqual(try metric(#"otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"}"#), Double(TestData.allFields.spanCount + 1))
        // The exporter counts a send once Tempo has answered, a moment after Tempo holds the spans.
        let sentCounted = await eventually { (try? self.metric(#"otelcol_exporter_sent_spans{exporter="otlp"}"#)) == Double(TestData.allFields.spanCount + 1) }
        XCTAssertTrue(sentCounted, (try? TestHTTPClient.request(port: metricsPort, path: "/metrics").text) ?? "no metrics")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    func testUnavailableForThreeSecondsThenOKLosesNothingAndDoublesNothing() async throws {
        let tempo = try await FakeGRPCTempo.start()
        let outageEnds = ContinuousClock.now + .seconds(3)
        tempo.script { _, _ in ContinuousClock.now < outageEnds ? .error(.unavailable, "tempo restarting") : .ok }
        let tp = try start("""
                endpoint: http://127.0.0.1:\(tempo.port)
                retry_on_failure: {initial_interval: 200ms, max_interval: 1s}
            """)
        var sent = 0
        for k in 0..<20 {
            _ = try await send(TestData.request(trace: UInt64(1000 + k), spans: 5)).get()
            sent += 5
        }
        let all = await tempo.wait(timeout: .seconds(30)) { $0.spans.count >= sent }
        XCTAssertTrue(all, tp.log)
        try await Task.sleep(for: .milliseconds(500))
        let ids = tempo.spans.map { "\($0.traceID)/\($0.spanID)" }
        XCTAssertEqual(ids.count, sent, "nothing doubled")
        XCTAssertEqual(Set(ids).count, sent, "nothing lost")
        XCTAssertGreaterThan(tempo.calls, tempo.received.count, "the outage was retried")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    func testInvalidArgumentIsDroppedCountedAndNotRetried() async throws {
        let tempo = try await FakeGRPCTempo.start()
        tempo.script { _, _ in .error(.invalidArgument, "span name too long") }
        let tp = try start("""
                endpoint: http://127.0.0.1:\(tempo.port)
                retry_on_failure: {initial_interval: 100ms}
            """)
        _ = try await send(TestData.request(trace: 7, spans: 4)).get()
        let counted = await eventually { (try? self.metric(#"otelcol_exporter_send_failed_spans{exporter="otlp",reason="permanent"}"#)) == 4 }
        XCTAssertTrue(counted, (try? TestHTTPClient.request(port: metricsPort, path: "/metrics").text) ?? "no metrics")
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(tempo.calls, 1, "a permanent error is not retried")
        XCTAssertTrue(tp.log.contains("INVALID_ARGUMENT") && tp.log.contains("span name too long"), "the code and message are logged:\n\(tp.log)")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    /// An answer with partial_success: the rejected spans count as failed.
    func testPartialSuccessIsCountedAndLogged() async throws {
        let tempo = try await FakeGRPCTempo.start()
        tempo.script { _, _ in .partial(rejected: 2, message: "2 spans are too old") }
        // Uncompressed this time (the others use the default, gzip): the spans still arrive.
        let tp = try start("""
                endpoint: http://127.0.0.1:\(tempo.port)
                compression: none
            """)
        _ = try await send(TestData.request(trace: 21, spans: 5)).get()
        let arrived = await tempo.wait { $0.received.count >= 1 }
        XCTAssertTrue(arrived, tp.log)
        XCTAssertEqual(tempo.received.first?.data, TestData.request(trace: 21, spans: 5))
        let counted = await eventually { (try? self.metric(#"otelcol_exporter_send_failed_spans{exporter="otlp",reason="partial_success"}"#)) == 2 }
        XCTAssertTrue(counted, tp.log)
        XCTAssertEqual(try metric(#"otelcol_exporter_sent_spans{exporter="otlp"}"#), 3)
        XCTAssertTrue(tp.log.contains("2 spans are too old"), tp.log)
        XCTAssertEqual(tempo.calls, 1)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    func testResourceExhaustedIsRetriedOnlyWithRetryInfoAfterItsDelay() async throws {
        let tempo = try await FakeGRPCTempo.start()
        let answeredAt = LockedList([ContinuousClock.Instant]())
        tempo.script { index, _ in
            answeredAt.append(.now)
            return index == 0 ? .error(.resourceExhausted, "ingestion rate limit", retryDelay: .seconds(2)) : .ok
        }
        let tp = try start("""
                endpoint: http://127.0.0.1:\(tempo.port)
                retry_on_failure: {initial_interval: 50ms, max_interval: 100ms}
            """)
        _ = try await send(TestData.request(trace: 8, spans: 3)).get()
        let delivered = await tempo.wait { $0.received.count == 1 }
        XCTAssertTrue(delivered, tp.log)
        let times = answeredAt.values
        XCTAssertEqual(times.count, 2)
        if times.count == 2 {
            XCTAssertGreaterThanOrEqual(times[1] - times[0], .milliseconds(1900), "the RetryInfo delay is honoured over initial_interval")
        }

        tempo.script { _, _ in .error(.resourceExhausted, "quota exhausted") }
        _ = try await send(TestData.request(trace: 9, spans: 3)).get()
        let counted = await eventually { (try? self.metric(#"otelcol_exporter_send_failed_spans{exporter="otlp",reason="permanent"}"#)) == 3 }
        XCTAssertTrue(counted, "RESOURCE_EXHAUSTED without RetryInfo is permanent:\n\(tp.log)")
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    func testTLSAndMutualTLSToTempo() async throws {
        let certs = try TestCertificates.make()
        for mutual in [false, true] {
            let tempo = try await FakeGRPCTempo.start(security: .tls(certs, requireClientCert: mutual))
            let clientCert = mutual ? ", cert_file: \(certs.clientCert), key_file: \(certs.clientKey)" : ""
            let tp = try start("""
                    endpoint: localhost:\(tempo.port)
                    tls: {ca_file: \(certs.caCert)\(clientCert)}
                """)
            _ = try await send(TestData.request(trace: mutual ? 11 : 10, spans: 2)).get()
            let arrived = await tempo.wait { $0.spans.count == 2 }
            XCTAssertTrue(arrived, "mutual=\(mutual):\n\(tp.log)")
            XCTAssertEqual(tp.terminate(), 0, tp.log)
            await tempo.stop()
        }
    }

    /// Each common TLS mistake is named in the log with the key that fixes it.
    func testTLSMistakesAreExplained() async throws {
        let certs = try TestCertificates.make()
        let plainTempo = try await FakeGRPCTempo.start()
        let tlsTempo = try await FakeGRPCTempo.start(security: .tls(certs, requireClientCert: false))
        let nameOnlyTempo = try await FakeGRPCTempo.start(security: .tlsNameOnly(certs))
        let cases: [(exporter: String, expect: String)] = [
            ("    endpoint: 127.0.0.1:\(plainTempo.port)", "tls.insecure: true"),
            ("    endpoint: localhost:\(tlsTempo.port)", "tls.ca_file"),
            ("    endpoint: localhost:\(nameOnlyTempo.port)\n    tls: {ca_file: \(certs.caCert), server_name_override: tempo.example}",
             "tls.server_name_override"),
            ("    endpoint: 127.0.0.1:\(tlsTempo.port)\n    tls: {insecure: true}", "remove tls.insecure"),
        ]
        for c in cases {
            let tp = try start(c.exporter + "\n    retry_on_failure: {initial_interval: 100ms}\n    sending_queue: {drain_timeout: 1s}")
            _ = try await send(TestData.request(trace: 12, spans: 1)).get()
            let explained = await eventually(timeout: .seconds(10)) { tp.log.contains(c.expect) }
            XCTAssertTrue(explained, "expected \"\(c.expect)\" in the log for\n\(c.exporter)\n\(tp.log)")
            _ = tp.terminate()
        }
        XCTAssertEqual(tlsTempo.calls + plainTempo.calls + nameOnlyTempo.calls, 0)
        await plainTempo.stop()
        await nameOnlyTempo.stop()
        await tlsTempo.stop()
    }

}

/// A lock-protected list for test scripts.
final class LockedList<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T]

    init(_ items: [T]) { self.items = items }

    func append(_ item: T) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
