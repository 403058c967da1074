import Foundation
import TestSupport
import XCTest

/// `validate --check-endpoints` through the binary: a reachable Tempo passes, and an untrusted
/// certificate, a closed port and an unknown host each fail with the step and the reason.
final class EndpointCheckTests: XCTestCase {
    func testEachFailingStepIsNamedWithItsCause() async throws {
        let certs = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certs.directory) }
        let plain = try await FakeTempo.start()
        let tlsTempo = try await FakeTempo.start(tls: try certs.serverContext())
        let closed = TestHTTPClient.freePort()
        let grpcTempo = try await FakeGRPCTempo.start()
        let grpcTLSTempo = try await FakeGRPCTempo.start(security: .tls(certs, requireClientCert: false))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tp-check-\(UUID()).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        func config(extra: String) -> String {
            """
            extensions: {bearertokenauth: {token: check-token}}
            receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:0"}}}}
            exporters:
              otlphttp/good: {endpoint: "http://127.0.0.1:\(plain.port)"}
              otlphttp/trusted: {endpoint: "https://127.0.0.1:\(tlsTempo.port)", tls: {ca_file: "\(certs.caCert)"}}
              otlp/grpc: {endpoint: "127.0.0.1:\(grpcTempo.port)", tls: {insecure: true}, auth: {authenticator: bearertokenauth}}
              otlp/grpcs: {endpoint: "localhost:\(grpcTLSTempo.port)", tls: {ca_file: "\(certs.caCert)"}}
            \(extra)
              debug: {}
            service:
              extensions: [bearertokenauth]
              pipelines:
                traces: {receivers: [otlp], exporters: [otlphttp/good, otlphttp/trusted, otlp/grpc, otlp/grpcs\(extra.isEmpty ? "" : ", otlphttp/untrusted, otlphttp/closed, otlphttp/nohost, otlp/plain-to-tls"), debug]}
            """
        }

        try config(extra: "").write(toFile: path, atomically: true, encoding: .utf8)
        let good = try TracePipeProcess.run(["validate", "--check-endpoints", "--config", path])
        XCTAssertEqual(good.status, 0, good.output)
        XCTAssertTrue(good.output.contains("otlphttp/good → http://127.0.0.1:\(plain.port)/v1/traces: ok: DNS"), good.output)
        XCTAssertTrue(good.output.contains("otlphttp/trusted") && good.output.contains("TLS handshake, HTTP answer"), good.output)
        XCTAssertTrue(good.output.contains("otlp/grpc → grpc://127.0.0.1:\(grpcTempo.port): ok: DNS"), good.output)
        XCTAssertEqual(grpcTempo.received.first?.metadata["authorization"].map { "\($0)" }, ["Bearer check-token"],
                       "the check's call carries the auth.authenticator's headers")
        XCTAssertTrue(good.output.contains("otlp/grpcs → grpcs://localhost:\(grpcTLSTempo.port): ok: DNS") && good.output.contains("an Export call with no spans answered OK"), good.output)

        try config(extra: """
              otlphttp/untrusted: {endpoint: "https://127.0.0.1:\(tlsTempo.port)"}
              otlphttp/closed: {endpoint: "http://127.0.0.1:\(closed)"}
              otlphttp/nohost: {endpoint: "http://no-such-host.invalid:4318"}
              otlp/plain-to-tls: {endpoint: "127.0.0.1:\(grpcTLSTempo.port)", tls: {insecure: true}}
            """).write(toFile: path, atomically: true, encoding: .utf8)
        let bad = try TracePipeProcess.run(["validate", "--check-endpoints", "--config", path])
        XCTAssertEqual(bad.status, 1, bad.output)
        let lines = bad.output.split(separator: "\n").map(String.init)
        func line(_ id: String) -> String { lines.first { $0.contains("\(id) →") } ?? "(no line for \(id))\n\(bad.output)" }
        XCTAssertTrue(line("otlphttp/good").contains(": ok:"), line("otlphttp/good"))
        XCTAssertTrue(line("otlphttp/untrusted").contains("unknown certificate authority"), line("otlphttp/untrusted"))
        XCTAssertTrue(line("otlphttp/closed").contains("connecting failed") && line("otlphttp/closed").lowercased().contains("refused"), line("otlphttp/closed"))
        XCTAssertTrue(line("otlphttp/nohost").contains("DNS lookup of no-such-host.invalid failed"), line("otlphttp/nohost"))
        XCTAssertTrue(line("otlp/plain-to-tls").contains("remove tls.insecure"), line("otlp/plain-to-tls"))
        XCTAssertFalse(bad.output.contains("debug →"), "exporters without an endpoint are not checked")
        await plain.stop()
        await tlsTempo.stop()
        await grpcTempo.stop()
        await grpcTLSTempo.stop()
    }
}
