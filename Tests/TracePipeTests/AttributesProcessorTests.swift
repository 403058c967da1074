import Foundation
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

final class AttributesProcessorTests: XCTestCase {
    static func load(_ yaml: String, pipelineProcessor: String) throws -> ServiceConfig {
        try ProcessorFixture.load(yaml, pipelineProcessor: pipelineProcessor)
    }

    /// Map entries come out of the collector in random order (quirk 1 of the vectors): sort them.
    static func normalize(_ v: Any) -> Any {
        if var d = v as? [String: Any] {
            for (k, x) in d { d[k] = normalize(x) }
            if let kv = d["kvlistValue"] as? [String: Any], let values = kv["values"] as? [[String: Any]] {
                d["kvlistValue"] = ["values": values.sorted { ($0["key"] as? String ?? "") < ($1["key"] as? String ?? "") }]
            }
            return d
        }
        if let a = v as? [Any] { return a.map(normalize) }
        return v
    }

    func testConformanceVectors() async throws {
        let dir = ComponentOutputTests.conformance.appendingPathComponent("attributes-processor")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".config.yaml") }.sorted()
        XCTAssertEqual(names.count, 31)
        for name in names {
            let base = String(name.dropLast(".config.yaml".count))
            let yaml = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let loaded = try Self.load(yaml, pipelineProcessor: "attributes/test")
            let config = loaded.processors[ComponentID(type: "attributes", name: "test")]!.config as! AttributesProcessorConfig
            var input = Array(try Data(contentsOf: dir.appendingPathComponent("\(base).input.json")))
            if input.last == 0x0A { input.removeLast() }
            let sink = CollectingConsumer()
            try await ProcessorFixture.processor(AttributesProcessor(config: config), next: sink).consume(try OTLPJSONDecoder.decode(input))
            let encoded = OTLPJSONEncoder.encode(await sink.last)
            let ours = try JSONSerialization.jsonObject(with: Data(encoded))
            let theirs = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(base).expected.json")))
            XCTAssertEqual(Self.normalize(ours) as? NSDictionary, Self.normalize(theirs) as? NSDictionary,
                           "\(base): \(String(decoding: encoded, as: UTF8.self))")
        }
    }

    /// Up to 64 actions are tracked per key in bit masks, longer lists test keys directly: both
    /// give the same result, each action seeing what the ones before it left (an inserted key
    /// is then deleted or hashed).
    func testLongActionListsActLikeShortOnes() async throws {
        let real = """
                  - {key: gone, action: delete}
                  - {pattern: '^tmp\\.', action: delete}
                  - {key: added.mail, value: "x@example.com", action: insert}
                  - {pattern: "mail", action: hash}
                  - {key: kept, action: hash}
                  - {key: added.tmp, value: "y", action: upsert}
                  - {key: added.tmp, action: delete}
            """
        let padding = (0..<64).map { "      - {key: absent.\($0), action: delete}" }.joined(separator: "\n")
        func run(_ actions: String) async throws -> [KeyValue] {
            let loaded = try Self.load("processors:\n  attributes:\n    actions:\n" + actions, pipelineProcessor: "attributes")
            let config = loaded.processors[ComponentID(type: "attributes")]!.config as! AttributesProcessorConfig
            var span = Span(name: "s")
            span.attributes = [KeyValue("gone", .string("1")), KeyValue("tmp.a", .int(2)), KeyValue("kept", .string("k")),
                               KeyValue("user.mail", .string("a@b.c")), KeyValue("tmp.b", .bool(true)), KeyValue("other", .string("o"))]
            let sink = CollectingConsumer()
            try await ProcessorFixture.processor(AttributesProcessor(config: config), next: sink)
                .consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [span, span])])]))
            return await sink.last.resourceSpans[0].scopeSpans[0].spans[1].attributes
        }
        let short = try await run(real)
        XCTAssertEqual(short.map(\.key), ["other", "kept", "user.mail", "added.mail"])
        XCTAssertEqual(short[attribute: "kept"], .string(Digest.hex(.sha256, of: "k")))
        XCTAssertEqual(short[attribute: "added.mail"], .string(Digest.hex(.sha256, of: "x@example.com")))
        let long = try await run(padding + "\n" + real)
        XCTAssertEqual(long, short)
    }

    /// RE2 group names may contain `_` (ICU's may not): a real-world config extracts `service_name`.
    func testExtractWithUnderscoredGroupNames() async throws {
        let loaded = try Self.load(#"""
            processors:
              attributes:
                actions:
                  - {key: msg, action: extract, pattern: "serviceName='(?P<service_name>.*?)' db_(?P<db_table>[a-z]+)"}
            """#, pipelineProcessor: "attributes")
        let config = loaded.processors[ComponentID(type: "attributes")]!.config as! AttributesProcessorConfig
        var span = Span(traceID: TraceID(high: 1, low: 2), spanID: SpanID(3), name: "q")
        span.attributes = [KeyValue("msg", .string("serviceName='cart' db_orders"))]
        let sink = CollectingConsumer()
        try await ProcessorFixture.processor(AttributesProcessor(config: config), next: sink)
            .consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [span])])]))
        let attrs = await sink.last.resourceSpans.first?.scopeSpans.first?.spans.first?.attributes ?? []
        XCTAssertEqual(attrs.first { $0.key == "service_name" }?.value, .string("cart"))
        XCTAssertEqual(attrs.first { $0.key == "db_table" }?.value, .string("orders"))
    }

    func testResourceProcessor() async throws {
        let loaded = try Self.load("""
            processors:
              resource:
                attributes:
                  - {key: deployment.environment, value: prod, action: upsert}
                  - {key: host.name, action: delete}
            """, pipelineProcessor: "resource")
        let config = loaded.processors[ComponentID(type: "resource")]!.config as! ResourceProcessorConfig
        let sink = CollectingConsumer()
        try await ProcessorFixture.processor(ResourceProcessor(config: config), next: sink).consume(TraceData(resourceSpans: [ResourceSpans(
            resource: Resource(attributes: [KeyValue("host.name", .string("h")), KeyValue("service.name", .string("api"))]),
            scopeSpans: [ScopeSpans(spans: [Span(name: "x")])])]))
        let attrs = await sink.last.resourceSpans[0].resource.attributes
        // The delete moves the last attribute into the freed slot, as the collector's does.
        XCTAssertEqual(attrs, [KeyValue("deployment.environment", .string("prod")), KeyValue("service.name", .string("api"))])
    }

    func testDigestsAgainstKnownVectors() {
        func hex(_ kind: Digest.Kind, _ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { Digest.hex(kind, of: $0) } }
        XCTAssertEqual(hex(.sha256, Array("hello".utf8)), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        XCTAssertEqual(Digest.hex(.sha256, of: "hello"), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        XCTAssertEqual(hex(.sha256, []), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex(.sha1, Array("abc".utf8)), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(.md5, Array("abc".utf8)), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(hex(.sha3_256, Array("abc".utf8)), "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532")
        XCTAssertEqual(hex(.sha3_256, []), "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")
        XCTAssertEqual(hex(.sha256, [UInt8](repeating: 0x61, count: 1000)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    /// Lengths around every padding boundary (one or two tail blocks; SHA3's 136-byte rate):
    /// the SHA-256 of all digests concatenated, as Python's hashlib computes it.
    func testDigestsAcrossBlockBoundaries() {
        let lengths = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 135, 136, 137, 200, 272, 300]
        let expected: [(Digest.Kind, String)] = [
            (.md5, "62655acbc8d63104fad59fe1b274a014449c166a4ab077fc97e85b0246e17252"),
            (.sha1, "367317302bb7f7d9de8044cbb0b1a2cfd141705d5d34a52b10d2365d1fdaea10"),
            (.sha256, "ab66b1987f976219a7e4dccc4ff2a901af7692378dcf4a45a276dc2e6031ae89"),
            (.sha3_256, "168f2e62a34dfad5712994ef729ee9706b07b8bf5181d79aba4bced5871e96e0"),
        ]
        for (kind, want) in expected {
            var all: [UInt8] = []
            for n in lengths {
                let data = (0..<n).map { UInt8(($0 * 7 + 3) % 256) }
                let hex = data.withUnsafeBytes { Digest.hex(kind, of: $0) }
                XCTAssertEqual(hex.utf8.count, 2 * kind.length)
                // Back from hex to the raw digest bytes, which hashlib's figure covers.
                let chars = Array(hex.utf8)
                all += stride(from: 0, to: chars.count, by: 2).map { UInt8(String(decoding: chars[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
            }
            XCTAssertEqual(all.withUnsafeBytes { Digest.hex(.sha256, of: $0) }, want, "\(kind)")
        }
    }

    func testConfigErrors() {
        for (yaml, message) in [
            ("{actions: [{key: a, action: frobnicate}]}", "unknown action \"frobnicate\""),
            ("{actions: [{action: insert, value: 1}]}", "missing key"),
            ("{actions: [{key: a, action: insert}]}", "exactly one of value"),
            ("{actions: [{key: a, action: insert, value: 1, from_attribute: b}]}", "exactly one of value"),
            ("{actions: [{key: a, action: extract, pattern: '^x'}]}", "named groups"),
            ("{actions: [{key: a, action: convert, converted_type: float}]}", "converted_type"),
            ("{actions: []}", "at least one action"),
            ("{include: {services: [a]}, actions: [{key: a, action: delete}]}", "match_type"),
        ] {
            XCTAssertThrowsError(try Self.load("processors: {attributes: \(yaml)}", pipelineProcessor: "attributes")) { e in
                XCTAssertTrue("\(e)".contains(message) && "\(e)".contains("processors.attributes"), "\(e)")
            }
        }
    }
}
