import Foundation
import TestSupport
import TraceModel
import XCTest

/// The multi-tenant sidecar setup, through the real binary: the receiver keeps request headers
/// (`include_metadata`), the batch processor batches per tenant (`metadata_keys`) and the
/// exporter's `headers_setter` sends each batch with its tenant's `X-Scope-OrgID`.
final class MultiTenantEndToEndTests: XCTestCase {
    func testEachTenantsSpansReachTempoWithItsOwnHeader() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-tenants-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let otlpPort = TestHTTPClient.freePort()
        let healthPort = TestHTTPClient.freePort()
        let zipkinPort = TestHTTPClient.freePort()
        let tempo = try await FakeTempo.start()
        let path = dir.appendingPathComponent("config.yaml").path
        try """
            extensions:
              health_check: {endpoint: "127.0.0.1:\(healthPort)"}
              headers_setter:
                headers:
                  - action: upsert
                    key: X-Scope-OrgID
                    from_context: X-Scope-OrgID
                    default_value: anonymous
              file_storage: {directory: "\(dir.path)"}
            receivers:
              otlp:
                protocols:
                  http: {endpoint: "127.0.0.1:\(otlpPort)", include_metadata: true}
              zipkin: {endpoint: "127.0.0.1:\(zipkinPort)", include_metadata: true}
            processors:
              batch: {timeout: 300ms, metadata_keys: [X-Scope-OrgID]}
            exporters:
              otlphttp:
                endpoint: http://127.0.0.1:\(tempo.port)
                auth: {authenticator: headers_setter}
                sending_queue: {storage: file_storage}
            service:
              extensions: [health_check, headers_setter, file_storage]
              pipelines:
                traces: {receivers: [otlp, zipkin], processors: [batch], exporters: [otlphttp]}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let tp = try TracePipeProcess(arguments: ["--config", path])
        try tp.waitHealthy(port: healthPort)

        let sends: [(tenant: String?, trace: UInt64, spans: Int)] = [("tenant-a", 1, 2), ("tenant-b", 2, 3), ("tenant-a", 3, 1), (nil, 4, 1)]
        for s in sends {
            var headers = ["Content-Type": "application/x-protobuf"]
            if let t = s.tenant { headers["x-scope-orgid"] = t }
            let data = TestData.request(trace: s.trace, spans: s.spans, service: s.tenant ?? "anonymous")
            let r = try TestHTTPClient.request(port: otlpPort, method: "POST", path: "/v1/traces", headers: headers, body: OTLPProtobufEncoder.encode(data))
            XCTAssertEqual(r.status, 200)
        }
        let zipkin = #"[{"traceId":"00000000000000000000000000000abc","id":"0000000000000001","name":"z","timestamp":1700000000000000,"duration":5,"localEndpoint":{"serviceName":"tenant-c"}}]"#
        let z = try TestHTTPClient.request(port: zipkinPort, method: "POST", path: "/api/v2/spans",
                                           headers: ["Content-Type": "application/json", "X-Scope-OrgID": "tenant-c"], body: Array(zipkin.utf8))
        XCTAssertEqual(z.status, 202)
        let arrived = await tempo.wait { $0.spans.count >= 8 }
        _ = tp.terminate()
        await tempo.stop()
        XCTAssertTrue(arrived, "spans at Tempo: \(tempo.spans.count)")

        var spansByHeader: [String: Int] = [:]
        for r in tempo.received {
            let header = r.headers["X-Scope-OrgID"]
            XCTAssertEqual(header.count, 1, "one tenant header per request: \(header)")
            guard let tenant = header.first, let data = r.data else { continue }
            for rs in data.resourceSpans {
                XCTAssertEqual(rs.resource.attributes.first { $0.key == "service.name" }?.value, .string(tenant),
                               "a request holds only its tenant's spans")
            }
            spansByHeader[tenant, default: 0] += data.spanCount
        }
        XCTAssertEqual(spansByHeader, ["tenant-a": 3, "tenant-b": 3, "anonymous": 1, "tenant-c": 1])
    }
}
