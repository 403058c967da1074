import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TraceModel
import TracePipe

/// An in-test OTLP/HTTP backend standing in for Tempo: decodes what it receives (protobuf or
/// JSON, gzip/deflate or not), records it, and answers however a test scripts it.
public final class FakeTempo: Sendable {
    public struct Received: Sendable {
        public var path: String
        public var headers: HTTPHeaders
        public var data: TraceData?
        public var error: String?
    }

    /// How to answer one request.
    public enum Answer: Sendable {
        case ok
        case status(Int, body: String = "", headers: [(String, String)] = [])
        /// Wait, then answer 200.
        case delay(Duration)
    }

    public typealias Script = @Sendable (_ index: Int, _ request: Received) -> Answer

    private struct State {
        var received: [Received] = []
        var script: Script = { _, _ in .ok }
    }

    private let state = NIOLockedValueBox(State())
    private let server: NIOLockedValueBox<HTTPServer?> = NIOLockedValueBox(nil)
    public let port: Int

    private init(server: HTTPServer) {
        self.server.withLockedValue { $0 = server }
        port = server.port
    }

    public static func start(port: Int = 0, tls: NIOSSLContext? = nil, path: String = "/v1/traces") async throws -> FakeTempo {
        let box = NIOLockedValueBox<FakeTempo?>(nil)
        let options = HTTPServer.Options(maxBodySize: 64 * 1024 * 1024) { _ in .text(.payloadTooLarge, "too large") }
        let server = try await HTTPServer.start(host: "127.0.0.1", port: port, group: MultiThreadedEventLoopGroup.singleton,
                                                options: options, tls: tls) { request in
            guard let me = box.withLockedValue({ $0 }) else { return .text(.serviceUnavailable, "starting") }
            return await me.handle(request, path: path)
        }
        let fake = FakeTempo(server: server)
        box.withLockedValue { $0 = fake }
        return fake
    }

    public func script(_ s: @escaping Script) {
        state.withLockedValue { $0.script = s }
    }

    public var received: [Received] { state.withLockedValue { $0.received } }

    /// Every span received, in arrival order.
    public var spans: [Span] {
        received.compactMap(\.data).flatMap { $0.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) } }
    }

    public func stop() async {
        await server.withLockedValue { s in defer { s = nil }; return s }?.shutdown(grace: .milliseconds(200))
    }

    /// Waits until `condition` holds (polling), or the timeout passes.
    @discardableResult
    public func wait(timeout: Duration = .seconds(20), until condition: (FakeTempo) -> Bool) async -> Bool {
        await eventually(timeout: timeout) { condition(self) }
    }

    private func handle(_ request: HTTPRequest, path: String) async -> HTTPResponse {
        guard request.path == path else { return .text(.notFound, "404 page not found\n") }
        var rec = Received(path: String(request.path), headers: request.headers, data: nil, error: nil)
        do {
            var body = Array(request.body.readableBytesView)
            switch request.headers.first(name: "Content-Encoding") ?? "" {
            case "gzip": body = try body.withUnsafeBytes { try Inflater.decompress($0, format: .gzip, limit: 256 << 20) }
            case "deflate": body = try body.withUnsafeBytes { try Inflater.decompress($0, format: .zlib, limit: 256 << 20) }
            default: break
            }
            if request.headers.first(name: "Content-Type") == "application/json" {
                rec.data = try OTLPJSONDecoder.decode(body)
            } else {
                rec.data = try OTLPProtobufDecoder.decode(body)
            }
        } catch {
            rec.error = "\(error)"
        }
        let (index, script) = state.withLockedValue { s -> (Int, Script) in (s.received.count, s.script) }
        let answer = script(index, rec)
        var accepted = false
        var response: HTTPResponse
        switch answer {
        case .ok:
            accepted = true
            response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/x-protobuf"], body: ByteBuffer(bytes: [0x0A, 0x00]))
        case .status(let code, let body, let headers):
            response = HTTPResponse(status: HTTPResponseStatus(statusCode: code), headers: ["Content-Type": "text/plain"], body: ByteBuffer(string: body))
            for (k, v) in headers { response.headers.replaceOrAdd(name: k, value: v) }
            accepted = (200..<300).contains(code)
        case .delay(let d):
            try? await Task.sleep(for: d)
            accepted = true
            response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/x-protobuf"], body: ByteBuffer(bytes: [0x0A, 0x00]))
        }
        // Only what was answered 2xx counts as received, as for a real backend.
        if accepted || rec.data == nil {
            state.withLockedValue { $0.received.append(rec) }
        } else {
            state.withLockedValue { $0.received.append(Received(path: rec.path, headers: rec.headers, data: nil, error: "refused with \(response.status.code)")) }
        }
        return response
    }
}

/// Self-signed certificates made with the openssl command line for TLS tests.
public struct TestCertificates: Sendable {
    public let directory: URL
    public var caCert: String { directory.appendingPathComponent("ca.pem").path }
    public var serverCert: String { directory.appendingPathComponent("server.pem").path }
    public var serverKey: String { directory.appendingPathComponent("server.key").path }
    public var clientCert: String { directory.appendingPathComponent("client.pem").path }
    /// A server certificate naming only DNS:localhost (no IP address), for name-mismatch tests.
    public var nameOnlyServerCert: String { directory.appendingPathComponent("server-name-only.pem").path }
    public var clientKey: String { directory.appendingPathComponent("client.key").path }

    /// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by it.
    public static func make() throws -> TestCertificates {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-certs-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let sh = """
            set -e
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=tracepipe test CA" 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
            printf 'subjectAltName=DNS:localhost\\n' > name-only.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server-name-only.pem -days 2 -extfile name-only.ext 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=tracepipe client" 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", sh]
        p.currentDirectoryURL = dir
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TestHTTPClient.Failure(description: "openssl failed (exit \(p.terminationStatus)); is the openssl command installed?")
        }
        return TestCertificates(directory: dir)
    }

    /// A server TLS context; with `requireClientCert`, clients must present a certificate from the CA.
    public func serverContext(requireClientCert: Bool = false) throws -> NIOSSLContext {
        var c = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(serverCert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: serverKey, format: .pem)))
        if requireClientCert {
            c.certificateVerification = .noHostnameVerification
            c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caCert))
        }
        return try NIOSSLContext(configuration: c)
    }
}
