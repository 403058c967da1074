import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TestSupport
import TraceModel
import TracePipe
import XCTest

/// The receivers facing bad, hostile and browser clients, through the real binary.
final class ReceiverHardeningTests: XCTestCase {
    var dir: URL!
    var otlpPort = 0
    var zipkinPort = 0
    var healthPort = 0

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-hard-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        otlpPort = TestHTTPClient.freePort()
        zipkinPort = TestHTTPClient.freePort()
        healthPort = TestHTTPClient.freePort()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func start(http: String = "", zipkin: String = "") throws -> TracePipeProcess {
        let path = dir.appendingPathComponent("config.yaml").path
        try """
            extensions: {health_check: {endpoint: "127.0.0.1:\(healthPort)"}}
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:\(otlpPort)
            \(http)
              zipkin:
                endpoint: 127.0.0.1:\(zipkinPort)
            \(zipkin)
            exporters:
              file: {path: "\(dir.appendingPathComponent("out.jsonl").path)"}
            service:
              extensions: [health_check]
              pipelines: {traces: {receivers: [otlp, zipkin], exporters: [file]}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path])
        try tp.waitHealthy(port: healthPort)
        return tp
    }

    func rssKB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    func testHostileBodiesGetA4xxAndTheServerKeepsServing() throws {
        let tp = try start()
        let deep = String(repeating: #"{"arrayValue":{"values":["#, count: 5000)
        let manyAttributes = #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x","attributes":["# +
            Array(repeating: #"{"key":"k","value":{"intValue":"1"}}"#, count: 1_000_000).joined(separator: ",") + "]}]}]}]}"
        let json: [(String, String)] = [
            ("truncated", #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"#),
            ("wrong type", #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":42}]}]}]}"#),
            ("huge number", #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"99999999999999999999999"}]}]}]}"#),
            ("negative timestamp", #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-5"}]}]}]}"#),
            ("deep nesting", #"{"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":"# + deep),
            ("short id", #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd"}]}]}]}"#),
            ("many attributes", manyAttributes),
        ]
        for (name, body) in json {
            let r = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"], body: Array(body.utf8))
            XCTAssertTrue((400..<500).contains(r.status), "\(name): \(r.status) \(r.text.prefix(200))")
            XCTAssertTrue(r.text.contains(#""code":3"#), "\(name): \(r.text.prefix(200))")
        }
        var invalidUTF8 = Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"ab"}]}]}]}"#.utf8)
        invalidUTF8[invalidUTF8.firstIndex(of: UInt8(ascii: "b"))!] = 0xFE
        XCTAssertEqual(try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"], body: invalidUTF8).status, 400)
        for body: [UInt8] in [[0x0A, 0xFF, 0xFF, 0xFF, 0x0F], [0x0A, 0x02, 0x0A], Array(repeating: 0x0A, count: 1000), [0x0B, 0x0B, 0x0B]] {
            let r = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/x-protobuf"], body: body)
            XCTAssertEqual(r.status, 400, "\(body.prefix(8))")
            XCTAssertEqual(r.header("Content-Type"), "application/x-protobuf")
        }
        for body in ["{", "[{\"traceId\":\"zz\",\"id\":\"1\"}]", "[{\"id\":\"1\",\"timestamp\":\"x\"}]", "[" + String(repeating: "[", count: 10000)] {
            let r = try TestHTTPClient.request(port: zipkinPort, method: "POST", path: "/api/v2/spans", headers: ["Content-Type": "application/json"], body: Array(body.utf8))
            XCTAssertEqual(r.status, 400, body.prefix(30) + ": " + r.text)
        }
        // A gzip bomb: ~100 KB that inflates to 1 GB. Refused, and memory stays flat.
        let bomb = try TestGzip.bomb(inflatedBytes: 1 << 30)
        XCTAssertLessThan(bomb.count, 2_000_000)
        let before = rssKB(tp.process.processIdentifier)
        let r = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces",
                                           headers: ["Content-Type": "application/json", "Content-Encoding": "gzip"], body: bomb)
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(r.text.contains("request body too large"), r.text)
        XCTAssertLessThan(rssKB(tp.process.processIdentifier) - before, 100_000, "memory stays flat (KB)")

        // Still serving.
        let ok = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: ["Content-Type": "application/json"],
                                            body: OTLPJSONEncoder.encode(TestData.request(trace: 1, spans: 2)))
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(tp.terminate(), 0, tp.log)
    }

    func testSlowClientsAreCutOff() throws {
        let tp = try start(http: "        read_timeout: 1s")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(otlpPort).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let partial = Array("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{".utf8)
        _ = partial.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let start = Date()
        var buf = [UInt8](repeating: 0, count: 16)
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let n = recv(fd, &buf, buf.count, 0)
        XCTAssertLessThanOrEqual(n, 0, "the server closes a request that never completes")
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertEqual(tp.terminate(), 0)
    }

    func testCORSPreflightAndHeaders() throws {
        let tp = try start(http: """
                    cors:
                      allowed_origins: ["https://*.example.com"]
                      allowed_headers: ["X-Custom"]
                      max_age: 7200
            """)
        let pre = try TestHTTPClient.request(port: otlpPort, method: "OPTIONS", path: "/v1/traces", headers: [
            "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-custom",
        ])
        XCTAssertEqual(pre.status, 204)
        XCTAssertEqual(pre.header("Access-Control-Allow-Origin"), "https://app.example.com")
        XCTAssertEqual(pre.header("Access-Control-Allow-Methods"), "POST")
        XCTAssertEqual(pre.header("Access-Control-Max-Age"), "7200")
        XCTAssertEqual(pre.header("Access-Control-Allow-Headers"), "content-type, x-custom")
        let denied = try TestHTTPClient.request(port: otlpPort, method: "OPTIONS", path: "/v1/traces", headers: [
            "Origin": "https://evil.test", "Access-Control-Request-Method": "POST",
        ])
        XCTAssertNil(denied.header("Access-Control-Allow-Origin"))
        let post = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces",
                                              headers: ["Content-Type": "application/json", "Origin": "https://app.example.com"], body: Array("{}".utf8))
        XCTAssertEqual(post.status, 200)
        XCTAssertEqual(post.header("Access-Control-Allow-Origin"), "https://app.example.com")
        XCTAssertEqual(post.header("Access-Control-Allow-Credentials"), "true")
        XCTAssertEqual(tp.terminate(), 0)
    }

    func testTLSAndMutualTLSOnTheReceiver() async throws {
        let certs = try TestCertificates.make()
        defer { try? FileManager.default.removeItem(at: certs.directory) }
        let tp = try start(http: """
                    tls:
                      cert_file: \(certs.serverCert)
                      key_file: \(certs.serverKey)
                      client_ca_file: \(certs.caCert)
            """)
        let target = HTTPTarget(tls: true, host: "127.0.0.1", port: otlpPort, path: "/v1/traces")
        let body = ByteBuffer(bytes: OTLPJSONEncoder.encode(TestData.request(trace: 9, spans: 1)))
        let headers = HTTPHeaders([("Content-Type", "application/json")])

        var withCert = ClientTLSConfig()
        withCert.caFile = certs.caCert
        withCert.certFile = certs.clientCert
        withCert.keyFile = certs.clientKey
        let good = HTTPClientConnection(target: target, tls: try withCert.makeContext(), serverName: nil, group: MultiThreadedEventLoopGroup.singleton)
        let r = try await good.send(headers: headers, body: body, timeout: .seconds(10))
        XCTAssertEqual(r.status, .ok)
        good.close()

        var noCert = ClientTLSConfig()
        noCert.caFile = certs.caCert
        let bad = HTTPClientConnection(target: target, tls: try noCert.makeContext(), serverName: nil, group: MultiThreadedEventLoopGroup.singleton)
        do {
            _ = try await bad.send(headers: headers, body: body, timeout: .seconds(10))
            XCTFail("a client without a certificate is refused")
        } catch {}
        bad.close()
        XCTAssertEqual(tp.terminate(), 0, tp.log)
    }
}
