import Foundation
import NIOPosix
import XCTest

@testable import TracePipe

/// `basicauth` and `bearertokenauth` as exporter authenticators.
final class ClientAuthExtensionsTests: XCTestCase {
    func load(_ extensions: String, authenticator: String) throws -> ServiceConfig {
        try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: """
            extensions:
            \(extensions)
            receivers: {otlp: {protocols: {http: }}}
            exporters: {otlphttp: {endpoint: "http://tempo:4318", auth: {authenticator: \(authenticator)}}}
            service:
              extensions: [\(authenticator)]
              pipelines: {traces: {receivers: [otlp], exporters: [otlphttp]}}
            """)
    }

    func error(_ extensions: String, authenticator: String) -> String {
        do {
            _ = try load(extensions, authenticator: authenticator)
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testBasicAuthSendsTheEncodedCredentials() throws {
        let c = try load("  basicauth/cloud: {client_auth: {username: \"123456\", password: \"glc_x:y\"}}", authenticator: "basicauth/cloud")
        let ext = BasicAuthExtension(config: c.extensions[ComponentID(type: "basicauth", name: "cloud")]!.config as! BasicAuthConfig)
        XCTAssertEqual(try ext.headerEdits(for: [:]), [HeaderEdit(.upsert, "Authorization", "Basic MTIzNDU2OmdsY194Onk=")])
        XCTAssertTrue(error("  basicauth: {}", authenticator: "basicauth").contains("extensions.basicauth: no credential source provided"))
        XCTAssertTrue(error("  basicauth: {htpasswd: {inline: \"u:p\"}, client_auth: {username: u}}", authenticator: "basicauth")
            .contains("only one of `htpasswd` or `client_auth` can be specified"))
        XCTAssertTrue(error("  basicauth: {htpasswd: {inline: \"u:p\"}}", authenticator: "basicauth").contains("extensions.basicauth.htpasswd: server-side"))
    }

    func testBearerTokenFromConfigAndFromAFileThatRotates() async throws {
        let c = try load("  bearertokenauth: {token: abc}", authenticator: "bearertokenauth")
        let fixed = BearerTokenAuthExtension(config: c.extensions[ComponentID(type: "bearertokenauth")]!.config as! BearerTokenAuthConfig)
        XCTAssertEqual(try fixed.headerEdits(for: [:]), [HeaderEdit(.upsert, "Authorization", "Bearer abc")])

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tp-token-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "first\n".write(toFile: path, atomically: true, encoding: .utf8)
        let f = try load("  bearertokenauth: {filename: \"\(path)\", scheme: Token, header: X-Auth}", authenticator: "bearertokenauth")
        let fromFile = BearerTokenAuthExtension(config: f.extensions[ComponentID(type: "bearertokenauth")]!.config as! BearerTokenAuthConfig)
        try await fromFile.start(ComponentHost(extensions: [:], status: ServiceStatus()))
        XCTAssertEqual(try fromFile.headerEdits(for: [:]), [HeaderEdit(.upsert, "X-Auth", "Token first")])
        try "second".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: path)
        try await Task.sleep(for: BearerTokenAuthExtension.recheckInterval + .milliseconds(100))
        XCTAssertEqual(try fromFile.headerEdits(for: [:]).first?.value, "Token second", "a rotated token is picked up")

        let missing = BearerTokenAuthExtension(config: try load("  bearertokenauth: {filename: /nonexistent/token}", authenticator: "bearertokenauth")
            .extensions[ComponentID(type: "bearertokenauth")]!.config as! BearerTokenAuthConfig)
        do {
            try await missing.start(ComponentHost(extensions: [:], status: ServiceStatus()))
            XCTFail("a missing token file fails the start")
        } catch {
            XCTAssertTrue("\(error)".contains("cannot read the token file /nonexistent/token"), "\(error)")
        }
        XCTAssertTrue(error("  bearertokenauth: {scheme: Bearer}", authenticator: "bearertokenauth").contains("extensions.bearertokenauth: no bearer token provided"))
    }
}
