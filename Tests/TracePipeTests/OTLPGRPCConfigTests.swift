import Foundation
import GRPCCore
import TestSupport
import TraceModel
import NIOCore
import NIOHPACK
import XCTest

@testable import TracePipe

/// The gRPC receiver and exporter keys as the collector's configgrpc reads them.
final class OTLPGRPCConfigTests: XCTestCase {
    func load(_ yaml: String) throws -> TracePipe.ServiceConfig {
        try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: yaml)
    }

    func exporter(_ body: String) throws -> OTLPGRPCExporterConfig {
        let c = try load("""
            receivers: {otlp: {protocols: {grpc: }}}
            exporters:
              otlp_grpc:
            \(body)
            service: {pipelines: {traces: {receivers: [otlp], exporters: [otlp_grpc]}}}
            """)
        return try XCTUnwrap(c.exporters[ComponentID(type: "otlp_grpc")]?.config as? OTLPGRPCExporterConfig)
    }

    func problems(_ yaml: String) -> [String] {
        do {
            _ = try load(yaml)
            return []
        } catch let e as ConfigErrors {
            return e.errors.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    func testReceiverDefaultsAndKeys() throws {
        let c = try load("""
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: 0.0.0.0:14317
                    max_recv_msg_size_mib: 16
                    max_concurrent_streams: 100
                    read_buffer_size: 524288
                    include_metadata: true
                    keepalive:
                      server_parameters: {max_connection_idle: 11s, max_connection_age: 12s, max_connection_age_grace: 13s, time: 30s, timeout: 5s}
                      enforcement_policy: {min_time: 10s, permit_without_stream: true}
              otlp/default:
                protocols:
                  grpc:
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp, otlp/default], exporters: [debug]}}}
            """)
        let g = try XCTUnwrap((c.receivers[ComponentID(type: "otlp")]?.config as? OTLPReceiverConfig)?.grpc)
        XCTAssertEqual(g.endpoint, Endpoint(host: "0.0.0.0", port: 14317))
        XCTAssertEqual(g.maxReceiveMessageBytes, 16 << 20)
        XCTAssertEqual(g.maxConcurrentStreams, 100)
        XCTAssertTrue(g.includeMetadata)
        XCTAssertEqual(g.keepalive.maxConnectionIdle, ConfigDuration.seconds(11))
        XCTAssertEqual(g.keepalive.maxConnectionAgeGrace, ConfigDuration.seconds(13))
        XCTAssertEqual(g.keepalive.time, ConfigDuration.seconds(30))
        XCTAssertEqual(g.keepalive.minTime, ConfigDuration.seconds(10))
        XCTAssertTrue(g.keepalive.permitWithoutStream)
        let d = try XCTUnwrap(c.receivers[ComponentID(type: "otlp", name: "default")]?.config as? OTLPReceiverConfig)
        XCTAssertEqual(d.grpc, GRPCServerSettings(), "grpc: with no value means the defaults (localhost:4317, 4 MiB)")
        XCTAssertEqual(d.grpc?.endpoint, Endpoint(host: "localhost", port: 4317))
        XCTAssertNil(d.http, "only the protocols listed are served")
    }

    func testExporterEndpointForms() throws {
        let tlsByDefault = try exporter("    endpoint: tempo:4317")
        XCTAssertEqual(tlsByDefault.host, "tempo")
        XCTAssertEqual(tlsByDefault.port, 4317)
        XCTAssertFalse(tlsByDefault.plaintext, "a bare host:port means TLS, as in the collector")
        XCTAssertEqual(tlsByDefault.compression, .gzip)
        XCTAssertEqual(tlsByDefault.helper.timeout, ConfigDuration.seconds(5))
        XCTAssertTrue(try exporter("    endpoint: tempo:4317\n    tls: {insecure: true}").plaintext)
        XCTAssertTrue(try exporter("    endpoint: http://tempo:4317").plaintext)
        XCTAssertFalse(try exporter("    endpoint: https://tempo.example.com:443/").plaintext)
        let v6 = try exporter("    endpoint: \"[::1]:4317\"")
        XCTAssertEqual(v6.host, "::1")
    }

    func testExporterKeys() throws {
        let c = try exporter("""
                endpoint: tempo:4317
                compression: none
                timeout: 10s
                headers: {X-Scope-OrgID: tenant-a}
                balancer_name: round_robin
                wait_for_ready: true
                keepalive: {time: 30s, timeout: 10s, permit_without_stream: true}
                tls: {ca_file: /etc/ca.pem, server_name_override: tempo.internal}
                sending_queue: {num_consumers: 4, queue_size: 500}
                retry_on_failure: {initial_interval: 1s}
            """)
        XCTAssertEqual(c.compression, OTLPGRPCExporterConfig.Compression.none)
        XCTAssertEqual(c.helper.timeout, ConfigDuration.seconds(10))
        XCTAssertEqual(c.headers.map(\.name), ["x-scope-orgid"], "metadata keys are lower-cased")
        XCTAssertEqual(c.balancer, .roundRobin)
        XCTAssertTrue(c.waitForReady)
        XCTAssertEqual(c.keepalive?.time, ConfigDuration.seconds(30))
        XCTAssertEqual(c.tls.serverNameOverride, "tempo.internal")
        XCTAssertEqual(c.helper.queue.numConsumers, 4)
        XCTAssertEqual(c.helper.retry.initialInterval, ConfigDuration.seconds(1))
    }

    func testExporterMistakesNameTheKey() {
        func exporterProblems(_ body: String) -> [String] {
            problems("""
                receivers: {otlp: {protocols: {grpc: }}}
                exporters:
                  otlp:
                \(body)
                service: {pipelines: {traces: {receivers: [otlp], exporters: [otlp]}}}
                """)
        }
        XCTAssertTrue(exporterProblems("    compression: gzip").contains { $0.hasPrefix("exporters.otlp.endpoint: required") })
        XCTAssertTrue(exporterProblems("    endpoint: tempo").contains { $0.hasPrefix("exporters.otlp.endpoint: expected host:port") })
        XCTAssertTrue(exporterProblems("    endpoint: tempo:4317\n    balancer_name: random").contains { $0.hasPrefix("exporters.otlp.balancer_name:") })
        XCTAssertTrue(exporterProblems("    endpoint: tempo:4317\n    headers: {\"bad key\": x}").contains { $0.hasPrefix("exporters.otlp.headers:") })
        XCTAssertTrue(exporterProblems("    endpoint: tempo:4317\n    compresion: gzip").contains { $0.contains("compresion") })
    }

    func testRPCStatusCarriesRetryInfoBothWays() throws {
        let e = RPCError.withRetryInfo(.unavailable, message: "queue full", delay: .milliseconds(2500))
        XCTAssertEqual(e.retryInfoDelay, .milliseconds(2500))
        let bytes = RPCStatus(code: 14, message: "queue full", retryDelay: .seconds(3)).protobuf()
        let back = bytes.withUnsafeBytes { RPCStatus.decodeProtobuf($0) }
        XCTAssertEqual(back, RPCStatus(code: 14, message: "queue full", retryDelay: .seconds(3)))
        XCTAssertNil(RPCError(code: .unavailable, message: "x").retryInfoDelay)
        // A Status with no details encodes exactly as before (code, message).
        XCTAssertEqual(RPCStatus(code: 3, message: "m").protobuf(), [0x08, 0x03, 0x12, 0x01, 0x6D])
    }

    func testExporterClassifiesCodesAsOTLPSays() throws {
        // The classification does not depend on the config; it must still load.
        _ = try exporter("    endpoint: tempo:4317")
        func kind(_ code: GRPCStatusCode, retryDelay: Duration? = nil) -> String {
            let details = retryDelay.map { RPCStatus(code: Int32(code.rawValue), message: "", retryDelay: $0).protobuf() }
            switch OTLPGRPCLane.classify(GRPCCallResult(status: code.rawValue, message: "m", details: details), target: "t", sentTenant: false) {
            case .retryable(_, let after, _): return "retry \(after.map { "\($0)" } ?? "-")"
            case .permanent: return "permanent"
            }
        }
        for code in [GRPCStatusCode.cancelled, .deadlineExceeded, .aborted, .outOfRange, .unavailable, .dataLoss] {
            XCTAssertEqual(kind(code), "retry -", "\(code)")
        }
        for code in [GRPCStatusCode.invalidArgument, .notFound, .permissionDenied, .unauthenticated, .internal, .unimplemented, .unknown] {
            XCTAssertEqual(kind(code), "permanent", "\(code)")
        }
        XCTAssertEqual(kind(.resourceExhausted), "permanent")
        XCTAssertEqual(kind(.resourceExhausted, retryDelay: .seconds(4)), "retry 4.0 seconds")
        XCTAssertEqual(kind(.unavailable, retryDelay: .seconds(2)), "retry 2.0 seconds")
        XCTAssertEqual("\(GRPCStatusCode.invalidArgument)", "INVALID_ARGUMENT")
        XCTAssertEqual(OTLPGRPCLane.grpcTimeout(.seconds(5)), "5000m")
        XCTAssertEqual(OTLPGRPCLane.grpcTimeout(.seconds(100_000_000)), "1666667M", "at most 8 digits")
        XCTAssertEqual(OTLPGRPCLane.grpcTimeout(.milliseconds(0)), "1m")
    }

    func testMessagesAreFramedAndPercentEncodedAsGRPCSays() {
        XCTAssertEqual(GRPCExportCallHandler.percentEncoded("50% done: ünïcode\n"), "50%25 done: %C3%BCn%C3%AFcode%0A")
        XCTAssertEqual(GRPCCallHandler.percentDecoded("50%25 done: %C3%BCn%C3%AFcode%0A"), "50% done: ünïcode\n")
        XCTAssertEqual(GRPCCallHandler.base64Decoded("AQID"), [1, 2, 3])
        XCTAssertEqual(GRPCCallHandler.base64Decoded("AQ"), [1], "unpadded binary metadata")
        var one = ByteBuffer()
        one.writeInteger(UInt8(0))
        one.writeInteger(UInt32(3))
        one.writeBytes([0x0A, 0x01, 0xFF])
        guard case .invalid = GRPCExportCallHandler.decode(one, encoding: "identity", limit: 100) else { return XCTFail("truncated protobuf") }
        var two = one
        two.writeBytes([0, 0, 0, 0, 0])
        guard case .invalid(let why) = GRPCExportCallHandler.decode(two, encoding: "identity", limit: 100) else { return XCTFail("two messages") }
        XCTAssertTrue(why.contains("exactly one message"), why)
        XCTAssertNotNil(GRPCExportCallHandler.check(["content-type": "application/grpc", ":method": "POST", ":path": "/x.Y/Z"]))
        XCTAssertNil(GRPCExportCallHandler.check(["content-type": "application/grpc+proto", ":method": "POST", ":path": GRPCExportCallHandler.path]))
    }
}
