import Foundation
import GRPCCore
import NIOConcurrencyHelpers
import NIOPosix
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// The OTLP/gRPC receiver in process, called by a real gRPC client over loopback.
final class OTLPGRPCReceiverTests: XCTestCase {
    /// Records what reaches it, or throws what a test tells it to.
    final class Sink: TraceConsumer, Sendable {
        let received = NIOLockedValueBox<[TraceData]>([])
        let metadata = NIOLockedValueBox<[[String: [String]]]>([])
        let failure = NIOLockedValueBox<PipelineError?>(nil)

        func consume(_ data: consuming TraceData) async throws {
            if let f = failure.withLockedValue({ $0 }) { throw f }
            let d = data
            received.withLockedValue { $0.append(d) }
            metadata.withLockedValue { $0.append(RequestMetadata.current) }
        }
    }

    func start(_ configure: (inout GRPCServerSettings) -> Void = { _ in }) async throws -> (OTLPGRPCReceiver, Sink, Int) {
        var settings = GRPCServerSettings()
        settings.endpoint = Endpoint(host: "127.0.0.1", port: TestHTTPClient.freePort())
        configure(&settings)
        let context = ComponentContext(id: ComponentID(type: "otlp", name: "grpc-\(UUID().uuidString.prefix(8))"), kind: .receiver,
                                       logger: .init(label: "test"), eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
        let sink = Sink()
        let receiver = OTLPGRPCReceiver(config: settings, context: context, next: sink)
        try await receiver.start(ComponentHost(extensions: [:], status: ServiceStatus()))
        return (receiver, sink, settings.endpoint.port)
    }

    func testEveryFieldArrivesPlainAndGzipped() async throws {
        let (receiver, sink, port) = try await start()
        let payload = OTLPProtobufEncoder.encode(TestData.allFields)
        for compression in [CompressionAlgorithm.none, .gzip] {
            let answer = try await TestGRPCClient.export(payload, port: port, compression: compression).get()
            XCTAssertEqual(answer, ExportTraceResponse(partialSuccess: .init()), "the collector answers with an empty partial_success")
        }
        let got = sink.received.withLockedValue { $0 }
        XCTAssertEqual(got, [TestData.allFields, TestData.allFields])
        XCTAssertEqual(receiver.accepted, 2 * TestData.allFields.spanCount)
        await receiver.shutdown()
    }

    func testMalformedPayloadIsInvalidArgumentAndNothingIsPassedOn() async throws {
        let (receiver, sink, port) = try await start()
        let result = try await TestGRPCClient.export([0x0A, 0xFF, 0xFF, 0x01], port: port)
        guard case .failure(let e) = result else { return XCTFail("a truncated message must fail, got \(result)") }
        XCTAssertEqual(e.code, .invalidArgument)
        XCTAssertFalse(e.message.isEmpty, "says what was wrong")
        XCTAssertTrue(sink.received.withLockedValue { $0 }.isEmpty)
        await receiver.shutdown()
    }

    func testRefusingPipelineIsUnavailableWithRetryInfoAndCountsRefused() async throws {
        let (receiver, sink, port) = try await start()
        sink.failure.withLockedValue { $0 = .refused("sending queue is full", retryAfter: .seconds(3)) }
        let payload = OTLPProtobufEncoder.encode(TestData.allFields)
        guard case .failure(let e) = try await TestGRPCClient.export(payload, port: port) else { return XCTFail("must not be OK") }
        XCTAssertEqual(e.code, .unavailable)
        XCTAssertEqual(e.message, "sending queue is full")
        XCTAssertEqual(e.retryInfoDelay, .seconds(3), "RetryInfo tells the client how long to back off")
        XCTAssertEqual(receiver.refused, TestData.allFields.spanCount)
        XCTAssertEqual(receiver.accepted, 0)

        sink.failure.withLockedValue { $0 = .permanent("exporter rejected the data") }
        guard case .failure(let p) = try await TestGRPCClient.export(payload, port: port) else { return XCTFail("must not be OK") }
        XCTAssertEqual(p.code, .internalError, "permanent errors map to INTERNAL as in the collector")
        XCTAssertNil(p.retryInfoDelay)
        await receiver.shutdown()
    }

    func testOversizedMessageIsRefusedAndTheServerKeepsServing() async throws {
        let big = OTLPProtobufEncoder.encode(TestData.request(trace: 1, spans: 200))
        let (receiver, sink, port) = try await start { $0.maxReceiveMessageBytes = big.count - 100 }
        guard case .failure(let e) = try await TestGRPCClient.export(big, port: port) else { return XCTFail("over max_recv_msg_size_mib") }
        XCTAssertEqual(e.code, .resourceExhausted, e.description)
        XCTAssertEqual(e.message, "grpc: received message larger than max (\(big.count) vs. \(big.count - 100))")
        XCTAssertNil(e.retryInfoDelay, "without RetryInfo, clients do not retry it")
        let small = OTLPProtobufEncoder.encode(TestData.request(trace: 2, spans: 1))
        _ = try await TestGRPCClient.export(small, port: port).get()
        XCTAssertEqual(sink.received.withLockedValue { $0.count }, 1)
        await receiver.shutdown()
    }

    func testIncludeMetadataPassesRequestMetadataOn() async throws {
        let (receiver, sink, port) = try await start { $0.includeMetadata = true }
        _ = try await TestGRPCClient.export(OTLPProtobufEncoder.encode(TestData.request(trace: 2, spans: 1)), port: port, metadata: ["x-tenant": "team-a"]).get()
        XCTAssertEqual(sink.metadata.withLockedValue { $0.first?["x-tenant"] }, ["team-a"])
        await receiver.shutdown()
    }

    func testTLSAndMutualTLS() async throws {
        let certs = try TestCertificates.make()
        let payload = OTLPProtobufEncoder.encode(TestData.request(trace: 3, spans: 2))
        let (tlsReceiver, tlsSink, tlsPort) = try await start { $0.tls = Self.serverTLS(certs, clientCA: false) }
        _ = try await TestGRPCClient.export(payload, port: tlsPort, host: "localhost", security: .tls(certs)).get()
        XCTAssertEqual(tlsSink.received.withLockedValue { $0.count }, 1)
        let plain = try await TestGRPCClient.export(payload, port: tlsPort, timeout: .seconds(3))
        XCTAssertNil(try? plain.get(), "a plaintext client cannot talk to a TLS receiver")
        await tlsReceiver.shutdown()

        let (mtlsReceiver, mtlsSink, mtlsPort) = try await start { $0.tls = Self.serverTLS(certs, clientCA: true) }
        let anonymous = try await TestGRPCClient.export(payload, port: mtlsPort, host: "localhost", security: .tls(certs), timeout: .seconds(3))
        XCTAssertNil(try? anonymous.get(), "client_ca_file requires a client certificate")
        _ = try await TestGRPCClient.export(payload, port: mtlsPort, host: "localhost", security: .tls(certs, clientCert: true)).get()
        XCTAssertEqual(mtlsSink.received.withLockedValue { $0.count }, 1)
        await mtlsReceiver.shutdown()
    }

    func testBusyPortIsAClearStartError() async throws {
        let (first, _, port) = try await start()
        var settings = GRPCServerSettings()
        settings.endpoint = Endpoint(host: "127.0.0.1", port: port)
        let context = ComponentContext(id: ComponentID(type: "otlp"), kind: .receiver, logger: .init(label: "test"),
                                       eventLoopGroup: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus())
        let second = OTLPGRPCReceiver(config: settings, context: context, next: Sink())
        do {
            try await second.start(ComponentHost(extensions: [:], status: ServiceStatus()))
            XCTFail("the port is taken")
        } catch {
            XCTAssertTrue("\(error)".contains("cannot listen on 127.0.0.1:\(port)"), "\(error)")
        }
        await first.shutdown()
    }

    static func serverTLS(_ certs: TestCertificates, clientCA: Bool) -> ServerTLSConfig {
        ServerTLSConfig(certFile: certs.serverCert, keyFile: certs.serverKey, clientCAFile: clientCA ? certs.caCert : nil)
    }
}

extension OTLPGRPCReceiver {
    /// The receiver's `otelcol_receiver_*_spans` as its metrics endpoint shows them.
    var accepted: Int { count("otelcol_receiver_accepted_spans") }
    var refused: Int { count("otelcol_receiver_refused_spans") }

    private func count(_ name: String) -> Int {
        Int(context.telemetry.sample(name, [("receiver", "\(context.id)"), ("transport", "grpc")]) ?? -1)
    }
}
