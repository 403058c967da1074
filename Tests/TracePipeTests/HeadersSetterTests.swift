import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOPosix
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// `headers_setter` and the way exporters use an authenticator: per-request header edits from
/// request metadata that survives queueing, in-queue batching and a persistent queue.
final class HeadersSetterTests: XCTestCase {
    static func load(_ ext: String, exporter: String = "auth: {authenticator: headers_setter}") throws -> ServiceConfig {
        try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: """
            extensions:
              headers_setter:
            \(ext)
            receivers: {otlp: {protocols: {http: {include_metadata: true}}}}
            exporters: {otlphttp: {endpoint: "http://tempo:4318", \(exporter)}}
            service:
              extensions: [headers_setter]
              pipelines: {traces: {receivers: [otlp], exporters: [otlphttp]}}
            """)
    }

    static func setter(_ ext: String) throws -> HeadersSetterExtension {
        let config = try load(ext).extensions[ComponentID(type: "headers_setter")]!.config as! HeadersSetterConfig
        return HeadersSetterExtension(config: config)
    }

    func testEditsComeFromValuesAndRequestMetadataWithDefaults() throws {
        let s = try Self.setter("""
                headers:
                  - {action: upsert, key: X-Scope-OrgID, from_context: X-Scope-OrgID, default_value: anonymous}
                  - {action: insert, key: X-Source, value: tracepipe}
                  - {action: delete, key: X-Internal}
            """)
        XCTAssertEqual(s.metadataKeys, ["x-scope-orgid"])
        XCTAssertEqual(try s.headerEdits(for: ["x-scope-orgid": ["tenant-a"]]), [
            HeaderEdit(.upsert, "X-Scope-OrgID", "tenant-a"), HeaderEdit(.insert, "X-Source", "tracepipe"), HeaderEdit(.delete, "X-Internal"),
        ])
        XCTAssertEqual(try s.headerEdits(for: [:]).first, HeaderEdit(.upsert, "X-Scope-OrgID", "anonymous"))
        XCTAssertThrowsError(try s.headerEdits(for: ["x-scope-orgid": ["a", "b"]])) { e in
            guard case ExportError.permanent(let m) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("2 values of \"x-scope-orgid\""), m)
        }
    }

    func testConfigErrorsNameTheEntry() {
        func error(_ ext: String, exporter: String = "auth: {authenticator: headers_setter}") -> String {
            do {
                _ = try Self.load(ext, exporter: exporter)
                return ""
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(error("    headers: []").contains("extensions.headers_setter.headers: missing headers configuration"))
        XCTAssertTrue(error("    headers: [{action: upsert, value: x}]").contains("extensions.headers_setter.headers[0].key: missing header name"))
        XCTAssertTrue(error("    headers: [{action: upsert, key: a}]").contains("extensions.headers_setter.headers[0]: missing header source"))
        XCTAssertTrue(error("    headers: [{action: upsert, key: a, value: x, from_context: y}]").contains("headers[0]: invalid header source"))
        XCTAssertTrue(error("    headers: [{action: replace, key: a, value: x}]").contains("extensions.headers_setter.headers[0].action"))
        XCTAssertEqual(error("    headers: [{action: delete, key: a}]"), "")
        XCTAssertTrue(error("    headers: [{action: upsert, key: \"X Tenant\", value: x}]").contains("headers[0].key: \"X Tenant\" is not a valid header name"))
        XCTAssertTrue(error("    headers: [{action: upsert, key: a, value: \"x\\r\\nEvil: 1\"}]").contains("headers[0].value: a header value must not contain line breaks"))
        XCTAssertTrue(error("    headers: [{action: upsert, key: a, value: x}]", exporter: "auth: {authenticator: basicauth}")
            .contains(#"exporters.otlphttp.auth.authenticator: references extension "basicauth" which is not configured in extensions"#))
        XCTAssertTrue(error("    headers: [{action: upsert, key: a, value: x}]", exporter: "auth: {}")
            .contains("exporters.otlphttp.auth.authenticator: required"))
    }

    func testEditsApplyToHTTPHeadersAndGRPCMetadata() {
        let edits = [HeaderEdit(.insert, "X-Scope-OrgID", "new"), HeaderEdit(.update, "X-Missing", "v"),
                     HeaderEdit(.upsert, "x-source", "s"), HeaderEdit(.delete, "X-Drop")]
        let http = HTTPHeaders([("x-scope-orgid", "configured"), ("X-Source", "old"), ("X-Drop", "1")]).applying(edits)
        XCTAssertEqual(http["X-Scope-OrgID"], ["configured"], "insert keeps a header the request has")
        XCTAssertEqual(http["X-Source"], ["s"])
        XCTAssertFalse(http.contains(name: "X-Missing"), "update only touches headers that are there")
        XCTAssertFalse(http.contains(name: "X-Drop"))
        let grpc = HPACKHeaders([("x-drop", "1")]).applying(edits)
        XCTAssertEqual(grpc["x-scope-orgid"], ["new"], "gRPC metadata keys are lower case")
        XCTAssertEqual(grpc["x-source"], ["s"])
        XCTAssertFalse(grpc.contains(name: "x-drop"))
    }

    /// A lane that records what it was asked to send.
    final class RecordingLane: ExportLane, @unchecked Sendable {
        let sent: NIOLockedValueBox<[(spans: Int, edits: [HeaderEdit])]>
        init(_ sent: NIOLockedValueBox<[(spans: Int, edits: [HeaderEdit])]>) { self.sent = sent }
        func send(_ data: TraceData, headerEdits: [HeaderEdit], timeout: Duration?) async throws(ExportError) -> ExportOutcome {
            sent.withLockedValue { $0.append((data.spanCount, headerEdits)) }
            return .ok
        }
        func close() {}
    }

    struct RecordingSender: ExportSender {
        let sent = NIOLockedValueBox<[(spans: Int, edits: [HeaderEdit])]>([])
        func makeLane() throws -> any ExportLane { RecordingLane(sent) }
    }

    func exporter(_ queue: String, sender: RecordingSender, extensions: [ComponentID: any Extension]) async throws -> QueuedExporter {
        let yaml = """
            extensions: {headers_setter: {headers: [{action: upsert, key: X-Scope-OrgID, from_context: x-scope-orgid}]}, file_storage: {directory: /tmp}}
            receivers: {otlp: {protocols: {http: }}}
            exporters: {otlphttp: {endpoint: "http://tempo:4318", auth: {authenticator: headers_setter}, sending_queue: \(queue)}}
            service: {extensions: [headers_setter, file_storage], pipelines: {traces: {receivers: [otlp], exporters: [otlphttp]}}}
            """
        let config = try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: yaml)
            .exporters[ComponentID(type: "otlphttp")]!.config as! OTLPHTTPExporterConfig
        let e = QueuedExporter(config: config.helper, sender: sender, context: ProcessorFixture.context("otlphttp"),
                               authenticator: config.auth?.authenticator)
        try await e.start(ComponentHost(extensions: extensions, status: ServiceStatus()))
        return e
    }

    func send(_ e: QueuedExporter, _ spans: Int, tenant: String) async throws {
        try await RequestMetadata.$current.withValue(["x-scope-orgid": [tenant], "other": ["x"]]) {
            try await e.consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: Array(repeating: Span(name: "s"), count: spans))])]))
        }
    }

    /// In-queue batching merges requests of one tenant only; each batch gets its tenant's header.
    func testQueuedRequestsKeepTheirTenantThroughInQueueBatching() async throws {
        let setter = try Self.setter("    headers: [{action: upsert, key: X-Scope-OrgID, from_context: x-scope-orgid}]")
        let sender = RecordingSender()
        let e = try await exporter("{num_consumers: 1, batch: {flush_timeout: 200ms, min_size: 100}}", sender: sender,
                                   extensions: [ComponentID(type: "headers_setter"): setter])
        try await send(e, 2, tenant: "a")
        try await send(e, 3, tenant: "a")
        try await send(e, 4, tenant: "b")
        try await send(e, 1, tenant: "a")
        await e.shutdown()
        let sent = sender.sent.withLockedValue { $0 }
        XCTAssertEqual(sent.map(\.spans), [5, 4, 1])
        XCTAssertEqual(sent.map { $0.edits.first?.value }, ["a", "b", "a"])
    }

    /// A persistent queue stores the metadata with the request: after a restart each request is
    /// still sent with its own tenant.
    func testPersistentQueueKeepsTheTenantAcrossARestart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-tenant-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FileQueueStore(directory: dir, fsync: false)
        let q1 = PersistentQueue(store: store, capacity: 10, sizer: .requests, logger: .init(label: "test"))
        let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: "s")])])])
        try await q1.offer(data, spans: 1, metadata: ["x-scope-orgid": ["tenant-a"]])
        try await q1.offer(data, spans: 1, metadata: [:])
        try await q1.offer(data, spans: 1, metadata: ["k": ["", "two values", "ü"]])
        let q2 = PersistentQueue(store: store, capacity: 10, sizer: .requests, logger: .init(label: "test"))
        var seen: [[String: [String]]] = []
        while let item = await q2.take(until: .now + .milliseconds(50)) {
            XCTAssertEqual(item.data.spanCount, 1)
            seen.append(item.metadata)
            await q2.ack(item)
        }
        XCTAssertEqual(seen, [["x-scope-orgid": ["tenant-a"]], [:], ["k": ["", "two values", "ü"]]])
    }

    func testACorruptedMetadataRecordIsQuarantined() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-tenant-bad-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FileQueueStore(directory: dir, fsync: false)
        let r = try store.write(sequence: 1, spans: 1, payload: [1, 2, 3], metadata: ["x-scope-orgid": ["a"]])
        XCTAssertEqual(try store.read(r).metadata, ["x-scope-orgid": ["a"]])
        // Flip a byte of the metadata: the checksum covers it.
        let fd = open(store.path(r), O_RDWR)
        var byte: UInt8 = 0x41
        XCTAssertEqual(pwrite(fd, &byte, 1, 20), 1)
        close(fd)
        XCTAssertThrowsError(try store.read(r)) { e in XCTAssertTrue("\(e)".contains("checksum mismatch"), "\(e)") }
    }
}
