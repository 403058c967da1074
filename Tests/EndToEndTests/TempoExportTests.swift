import Foundation
import TestSupport
import TraceModel
import XCTest

/// tracepipe between a client and a fake Tempo: delivery, outages, backpressure, persistence,
/// TLS and shutdown, all through the real binary.
final class TempoExportTests: XCTestCase {
    var dir: URL!
    var otlpPort = 0
    var healthPort = 0

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-export-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        otlpPort = TestHTTPClient.freePort()
        healthPort = TestHTTPClient.freePort()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// A config with the receiver and health check on this test's ports and `exporter` as the
    /// `otlphttp` exporter's body (indented YAML lines).
    func config(_ exporter: String, extraExtensions: String = "", serviceExtensions: String = "health_check") throws -> String {
        let path = dir.appendingPathComponent("config-\(UUID()).yaml").path
        try """
            extensions:
              health_check:
                endpoint: 127.0.0.1:\(healthPort)
            \(extraExtensions)
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:\(otlpPort)
            exporters:
              otlphttp:
            \(exporter)
            service:
              extensions: [\(serviceExtensions)]
              telemetry:
                logs:
                  level: debug
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [otlphttp]
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func start(_ configPath: String, env: [String: String] = [:]) throws -> TracePipeProcess {
        let tp = try TracePipeProcess(arguments: ["--config", configPath], environment: env)
        try tp.waitHealthy(port: healthPort)
        return tp
    }

    @discardableResult
    func post(_ data: TraceData, json: Bool = true) throws -> TestHTTPResponse {
        try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces",
                                   headers: ["Content-Type": json ? "application/json" : "application/x-protobuf"],
                                   body: json ? OTLPJSONEncoder.encode(data) : OTLPProtobufEncoder.encode(data))
    }

    func testEveryFieldArrivesInBothEncodingsWithTheTenantHeader() async throws {
        for (encoding, compression) in [("proto", "gzip"), ("json", "none"), ("proto", "deflate")] {
            let tempo = try await FakeTempo.start()
            let tp = try start(try config("""
                    endpoint: http://127.0.0.1:\(tempo.port)
                    encoding: \(encoding)
                    compression: \(compression)
                    headers:
                      X-Scope-OrgID: ${env:TENANT}
                """), env: ["TENANT": "tenant-a"])
            let data = TestData.allFields
            XCTAssertEqual(try post(data, json: encoding == "json").status, 200)
            XCTAssertEqual(try post(data, json: encoding != "json").status, 200)
            let arrived = await tempo.wait { $0.received.count >= 2 }
            XCTAssertTrue(arrived, tp.log)
            for r in tempo.received {
                XCTAssertNil(r.error, "\(encoding)/\(compression): \(r.error ?? "")")
                XCTAssertEqual(r.data, data, "\(encoding)/\(compression)")
                XCTAssertEqual(r.headers.first(name: "X-Scope-OrgID"), "tenant-a")
                XCTAssertEqual(r.headers.first(name: "Content-Type"), encoding == "json" ? "application/json" : "application/x-protobuf")
                XCTAssertEqual(r.headers.first(name: "Content-Encoding"), compression == "none" ? nil : compression)
                XCTAssertTrue(r.headers.first(name: "User-Agent")?.hasPrefix("tracepipe/") == true)
            }
            XCTAssertEqual(tp.terminate(), 0, tp.log)
            await tempo.stop()
        }
    }

    func testA503OutageWithRetryAfterLosesNothingAndDuplicatesNothing() async throws {
        let tempo = try await FakeTempo.start()
        let outageEnds = ContinuousClock.now + .seconds(3)
        tempo.script { _, _ in
            ContinuousClock.now < outageEnds ? .status(503, body: "overloaded", headers: [("Retry-After", "1")]) : .ok
        }
        let tp = try start(try config("""
                endpoint: http://127.0.0.1:\(tempo.port)
                retry_on_failure:
                  initial_interval: 100ms
            """))
        for k in 0..<10 { XCTAssertEqual(try post(TestData.request(trace: UInt64(k + 1), spans: 10)).status, 200) }
        let all = await tempo.wait { $0.spans.count >= 100 }
        XCTAssertTrue(all, "got \(tempo.spans.count) spans\n\(tp.log)")
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(tempo.spans.count, 100, "each span exactly once")
        XCTAssertEqual(Set(tempo.spans.map(\.spanID)).count, 100)
        XCTAssertTrue(tp.log.contains("export failed; will retry"), tp.log)
        XCTAssertEqual(tp.terminate(), 0)
        await tempo.stop()
    }

    func testTempoDownThenUpOnTheSamePortLosesNothing() async throws {
        let port = TestHTTPClient.freePort()
        let tp = try start(try config("""
                endpoint: http://127.0.0.1:\(port)
                retry_on_failure:
                  initial_interval: 200ms
                  max_interval: 1s
            """))
        for k in 0..<5 { XCTAssertEqual(try post(TestData.request(trace: UInt64(k + 1), spans: 4)).status, 200) }
        try await Task.sleep(for: .seconds(5))
        let tempo = try await FakeTempo.start(port: port)
        let all = await tempo.wait { $0.spans.count >= 20 }
        XCTAssertTrue(all, "got \(tempo.spans.count)\n\(tp.log)")
        XCTAssertTrue(tp.log.contains("cannot connect"), tp.log)
        XCTAssertEqual(tp.terminate(), 0)
        XCTAssertEqual(tempo.spans.count, 20)
        await tempo.stop()
    }

    func testPermanentErrorsAreDroppedCountedAndNotRetried() async throws {
        let tempo = try await FakeTempo.start()
        tempo.script { _, _ in .status(400, body: "trace too large") }
        let tp = try start(try config("""
                endpoint: http://127.0.0.1:\(tempo.port)
                retry_on_failure:
                  initial_interval: 50ms
            """))
        XCTAssertEqual(try post(TestData.request(trace: 1, spans: 3)).status, 200)
        await tempo.wait { $0.received.count >= 1 }
        try await Task.sleep(for: .milliseconds(700))
        XCTAssertEqual(tempo.received.count, 1, "a 400 is not retried")
        XCTAssertEqual(tp.terminate(), 0)
        XCTAssertTrue(tp.log.contains("dropping data: the backend refused it"), tp.log)
        XCTAssertTrue(tp.log.contains("HTTP 400: trace too large"), tp.log)
    }

    func testMissingTenantIsPermanentAndSaysWhichHeader() async throws {
        let tempo = try await FakeTempo.start()
        tempo.script { _, r in r.headers.first(name: "X-Scope-OrgID") == nil ? .status(503, body: "no org id") : .ok }
        let tp = try start(try config("""
                endpoint: http://127.0.0.1:\(tempo.port)
                retry_on_failure:
                  initial_interval: 50ms
            """))
        XCTAssertEqual(try post(TestData.request(trace: 1, spans: 1)).status, 200)
        await tempo.wait { $0.received.count >= 1 }
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(tempo.received.count, 1, "not retried forever")
        XCTAssertEqual(tp.terminate(), 0)
        XCTAssertTrue(tp.log.contains("X-Scope-OrgID"), tp.log)
    }

    func testAFullQueueAnswers503WithRetryAfterNeverAcceptAndDrop() async throws {
        let tempo = try await FakeTempo.start()
        tempo.script { _, _ in .delay(.seconds(2)) }
        let tp = try start(try config("""
                endpoint: http://127.0.0.1:\(tempo.port)
                sending_queue:
                  queue_size: 2
                  num_consumers: 1
            """))
        var accepted = 0
        var refused: TestHTTPResponse?
        for k in 0..<10 {
            let r = try post(TestData.request(trace: UInt64(k + 1), spans: 2))
            if r.status == 200 { accepted += 1 } else { refused = r; break }
        }
        let answer = try XCTUnwrap(refused, "the queue never filled")
        XCTAssertEqual(answer.status, 503)
        XCTAssertNotNil(answer.header("Retry-After"))
        XCTAssertTrue(answer.text.contains("queue"), answer.text)
        // Every accepted request is delivered.
        let all = await tempo.wait(timeout: .seconds(30)) { $0.spans.count >= accepted * 2 }
        XCTAssertTrue(all, "accepted \(accepted), delivered \(tempo.spans.count)")
        XCTAssertEqual(tp.terminate(), 0)
        await tempo.stop()
    }

    func testPersistentQueueSurvivesKill9() async throws {
        let port = TestHTTPClient.freePort()
        let queueDir = dir.appendingPathComponent("queue").path
        let path = try config("""
                endpoint: http://127.0.0.1:\(port)
                retry_on_failure:
                  initial_interval: 100ms
                  max_interval: 500ms
                sending_queue:
                  storage: file_storage/q
            """, extraExtensions: """
              file_storage/q:
                directory: \(queueDir)
                create_directory: true
            """, serviceExtensions: "health_check, file_storage/q")
        let first = try start(path)
        for k in 0..<8 { XCTAssertEqual(try post(TestData.request(trace: UInt64(k + 1), spans: 5)).status, 200) }
        kill(first.process.processIdentifier, SIGKILL)
        _ = first.waitExit()
        let second = try start(path)
        let tempo = try await FakeTempo.start(port: port)
        let all = await tempo.wait(timeout: .seconds(30)) { Set($0.spans.map(\.spanID)).count >= 40 }
        XCTAssertTrue(all, "delivered \(Set(tempo.spans.map(\.spanID)).count) of 40\n\(second.log)")
        XCTAssertTrue(second.log.contains("persistent queue has requests from a previous run"), second.log)
        XCTAssertEqual(second.terminate(), 0)
        await tempo.stop()
    }

    /// `sending_queue.batch`: queued requests are merged up to `min_size` spans and split at
    /// `max_size`; what stays below `min_size` goes out once `flush_timeout` passes.
    func testInQueueBatchingMergesSplitsAndFlushes() async throws {
        let tempo = try await FakeTempo.start()
        let tp = try start(try config("""
                endpoint: http://127.0.0.1:\(tempo.port)
                sending_queue:
                  num_consumers: 1
                  batch:
                    flush_timeout: 1s
                    min_size: 8
                    max_size: 8
            """))
        let started = ContinuousClock.now
        for k in 0..<5 { XCTAssertEqual(try post(TestData.request(trace: UInt64(k + 1), spans: 3)).status, 200) }
        let delivered = await tempo.wait(timeout: .seconds(10)) { $0.spans.count == 15 }
        XCTAssertTrue(delivered, tp.log)
        // 3+3+3 reach min_size and are split at max_size (8 + 1); the last 6 wait for flush_timeout.
        XCTAssertEqual(tempo.received.compactMap(\.data?.spanCount), [8, 1, 6], tp.log)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .milliseconds(900), "the remainder waits for flush_timeout")
        XCTAssertEqual(Set(tempo.spans.map(\.spanID)).count, 15)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        await tempo.stop()
    }

    func testShutdownDeliversWhatIsQueuedToASlowTempo() async throws {
        let tempo = try await FakeTempo.start()
        tempo.script { _, _ in .delay(.milliseconds(300)) }
        let tp = try start(try config("""
                endpoint: http://127.0.0.1:\(tempo.port)
                sending_queue:
                  num_consumers: 1
            """))
        for k in 0..<6 { XCTAssertEqual(try post(TestData.request(trace: UInt64(k + 1), spans: 3)).status, 200) }
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        XCTAssertEqual(tempo.spans.count, 18, tp.log)
        await tempo.stop()
    }

    func testTLSWithASelfSignedTempo() async throws {
        let certs = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certs.directory) }
        let tempo = try await FakeTempo.start(tls: try certs.serverContext())

        // Without the CA: refused, and the log says why.
        var tp = try start(try config("""
                endpoint: https://127.0.0.1:\(tempo.port)
                retry_on_failure:
                  initial_interval: 100ms
                sending_queue:
                  drain_timeout: 500ms
            """))
        XCTAssertEqual(try post(TestData.request(trace: 1, spans: 1)).status, 200)
        try await Task.sleep(for: .seconds(1))
        XCTAssertEqual(tempo.spans.count, 0)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
        XCTAssertTrue(tp.log.contains("unknown certificate authority"), tp.log)
        XCTAssertTrue(tp.log.contains("shutdown left spans undelivered"), "the loss is reported")

        // With ca_file, and with insecure_skip_verify.
        for tls in ["ca_file: \(certs.caCert)", "insecure_skip_verify: true"] {
            let before = tempo.spans.count
            tp = try start(try config("""
                    endpoint: https://127.0.0.1:\(tempo.port)
                    tls:
                      \(tls)
                """))
            XCTAssertEqual(try post(TestData.request(trace: 2, spans: 1)).status, 200)
            let ok = await tempo.wait { $0.spans.count > before }
            XCTAssertTrue(ok, "\(tls)\n\(tp.log)")
            XCTAssertEqual(tp.terminate(), 0)
        }
        await tempo.stop()

        // mTLS: the server demands a client certificate.
        let strict = try await FakeTempo.start(tls: try certs.serverContext(requireClientCert: true))
        tp = try start(try config("""
                endpoint: https://127.0.0.1:\(strict.port)
                tls:
                  ca_file: \(certs.caCert)
                  cert_file: \(certs.clientCert)
                  key_file: \(certs.clientKey)
            """))
        XCTAssertEqual(try post(TestData.request(trace: 3, spans: 1)).status, 200)
        let ok = await strict.wait { $0.spans.count == 1 }
        XCTAssertTrue(ok, tp.log)
        XCTAssertEqual(tp.terminate(), 0)
        await strict.stop()
    }
}
