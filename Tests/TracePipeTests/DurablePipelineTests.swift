import Foundation
import Logging
import NIOPosix
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

/// Which pipelines are durable, and what that changes: the batch processor hands each request
/// straight to the persistent queue (the caller returns once it is on disk) and the exporter's
/// queue batches with the batch processor's settings.
final class DurablePipelineTests: XCTestCase {
    func build(_ yaml: String) throws -> PipelineGraph {
        let config = try ConfigLoader(registry: .builtIn, environment: [:], skipUnsupported: false).load(yaml: yaml)
        return try PipelineGraph.build(config, group: MultiThreadedEventLoopGroup.singleton, status: ServiceStatus(), logger: Logger(label: "t"))
    }

    func config(storage: String, tempo: Int, exporters: String, processors: String = "[batch]") -> String {
        """
        extensions: {file_storage: {directory: "\(storage)", create_directory: true}}
        receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:0"}}}}
        processors:
          batch: {send_batch_size: 5, timeout: 400ms}
          tail_sampling: {decision_wait: 1s, policies: [{name: all, type: always_sample}]}
        exporters:
          otlphttp: {endpoint: "http://127.0.0.1:\(tempo)", sending_queue: {storage: file_storage}, retry_on_failure: {initial_interval: 100ms}}
          otlphttp/memory: {endpoint: "http://127.0.0.1:\(tempo)"}
          debug: {}
        service:
          extensions: [file_storage]
          pipelines: {traces: {receivers: [otlp], processors: \(processors), exporters: \(exporters)}}
        """
    }

    func testABatchInFrontOfPersistentQueuesAnswersOnceOnDiskAndTheQueueBatches() async throws {
        let storage = FileManager.default.temporaryDirectory.appendingPathComponent("tp-durable-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: storage) }
        let tempo = try await FakeTempo.start()
        defer { Task { await tempo.stop() } }
        // Tempo refuses at first, so what the batch processor handed on stays in the queue.
        tempo.script { index, _ in index == 0 ? .status(503, headers: [("Retry-After", "1")]) : .ok }
        let graph = try build(config(storage: storage, tempo: tempo.port, exporters: "[otlphttp]"))
        let batch = try XCTUnwrap(graph.processors[0].chain[0].component as? BatchProcessor)
        XCTAssertTrue(batch.passesThrough)
        let host = ComponentHost(extensions: Dictionary(uniqueKeysWithValues: graph.extensions.map { ($0.id, $0.component) }), status: ServiceStatus())
        for e in graph.extensions { try await e.component.start(host) }
        let exporter = graph.exporters[0].component
        XCTAssertEqual(exporter.persistentQueueStorage, ComponentID(type: "file_storage"))
        try await exporter.start(host)

        let queueDir = storage + "/exporter_otlphttp__traces"
        func records() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: queueDir)) ?? []).filter { $0.hasSuffix(".rec") }.count }
        for trace in 1...3 {
            try await batch.consume(TestData.request(trace: UInt64(trace), spans: 2))
            // Answered only now, and already on disk: one record per request (the first may
            // already be in flight, still on disk until Tempo takes it).
            XCTAssertEqual(records(), trace)
        }
        // The queue gathered the records into batches of at least send_batch_size (5): after
        // Tempo's one refusal, the 6 spans arrive in one request.
        let arrived = await tempo.wait(timeout: .seconds(15)) { $0.spans.count >= 6 }
        XCTAssertTrue(arrived)
        let requests = tempo.received.compactMap(\.data).map(\.spanCount)
        XCTAssertEqual(requests, [6], "\(requests)")
        await eventually(timeout: .seconds(5)) { records() == 0 }
        XCTAssertEqual(records(), 0, "delivered records are deleted")
        await exporter.shutdown()
        for e in graph.extensions { await e.component.shutdown() }
    }

    func testAPipelineWithAnExporterWithoutPersistentQueueIsNotDurable() throws {
        let storage = FileManager.default.temporaryDirectory.appendingPathComponent("tp-durable-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: storage) }
        for (exporters, durable) in [("[otlphttp, debug]", false), ("[otlphttp/memory]", false), ("[otlphttp]", true)] {
            let graph = try build(config(storage: storage, tempo: 1, exporters: exporters, processors: "[tail_sampling, batch]"))
            let chain = graph.processors[0].chain
            XCTAssertEqual((chain[1].component as? BatchProcessor)?.passesThrough, durable, exporters)
        }
    }
}
