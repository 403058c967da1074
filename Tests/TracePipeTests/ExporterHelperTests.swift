import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import TraceModel
import XCTest

@testable import TracePipe

final class ExporterHelperTests: XCTestCase {
    func testBackoffGrowsCapsAndHonoursRetryAfter() {
        var r = ExporterHelperConfig.Retry()
        r.initialInterval = .seconds(5)
        r.multiplier = 1.5
        r.maxInterval = .seconds(30)
        r.randomizationFactor = 0.5
        let p = RetryPolicy(config: r)
        XCTAssertEqual(p.delay(afterAttempt: 0, retryAfter: nil, random: 0.5), .seconds(5), "middle of the jitter range")
        XCTAssertEqual(p.delay(afterAttempt: 0, retryAfter: nil, random: 0), .milliseconds(2500))
        XCTAssertEqual(p.delay(afterAttempt: 1, retryAfter: nil, random: 0.5), .milliseconds(7500))
        XCTAssertEqual(p.delay(afterAttempt: 20, retryAfter: nil, random: 0.5), .seconds(30), "capped at max_interval")
        XCTAssertEqual(p.delay(afterAttempt: 0, retryAfter: .seconds(60), random: 0.5), .seconds(60), "Retry-After wins when longer")
    }

    func testRetryAfterParsesSecondsAndDates() {
        XCTAssertEqual(OTLPHTTPLane.retryAfter("7"), .seconds(7))
        let now = Date(timeIntervalSince1970: 1_445_412_470)  // Wed, 21 Oct 2015 07:27:50 GMT
        XCTAssertEqual(OTLPHTTPLane.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now), .seconds(10))
        XCTAssertNil(OTLPHTTPLane.retryAfter("soon"))
        XCTAssertNil(OTLPHTTPLane.retryAfter(nil))
    }

    func response(_ code: Int, _ body: [UInt8] = [], contentType: String = "text/plain", headers: [(String, String)] = []) -> HTTPClientResponse {
        var h = HTTPHeaders([("Content-Type", contentType)])
        for (k, v) in headers { h.add(name: k, value: v) }
        return HTTPClientResponse(status: HTTPResponseStatus(statusCode: code), headers: h, body: ByteBuffer(bytes: body))
    }

    func outcome(_ r: HTTPClientResponse, headers: [(name: String, value: String)] = []) -> Result<ExportOutcome, ExportError> {
        do {
            return .success(try OTLPHTTPLane.interpret(r, target: HTTPTarget.parse("http://tempo:4318/v1/traces")!, sentTenant: headers.contains { $0.name.lowercased() == "x-scope-orgid" }))
        } catch {
            return .failure(error)
        }
    }

    func testResponsesAreClassifiedAsOTLPHTTPDefines() throws {
        for code in [200, 202, 204] {
            guard case .success(let o) = outcome(response(code)) else { return XCTFail("\(code)") }
            XCTAssertEqual(o.rejectedSpans, 0)
        }
        let partial = ExportTraceResponse(partialSuccess: .init(rejectedSpans: 3, errorMessage: "too old")).protobuf()
        guard case .success(let p) = outcome(response(200, partial, contentType: "application/x-protobuf")) else { return XCTFail() }
        XCTAssertEqual(p.rejectedSpans, 3)
        XCTAssertEqual(p.message, "too old")
        let partialJSON = Array(#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"x"}}"#.utf8)
        guard case .success(let pj) = outcome(response(200, partialJSON, contentType: "application/json")) else { return XCTFail() }
        XCTAssertEqual(pj.rejectedSpans, 2)
        for code in [429, 502, 503, 504] {
            guard case .failure(.retryable(_, let after, _)) = outcome(response(code, headers: [("Retry-After", "3")])) else { return XCTFail("\(code)") }
            XCTAssertEqual(after, .seconds(3))
        }
        for code in [400, 401, 403, 404, 413, 500, 501] {
            guard case .failure(.permanent(let m)) = outcome(response(code, Array("bad things".utf8))) else { return XCTFail("\(code)") }
            XCTAssertTrue(m.contains("HTTP \(code): bad things"), m)
        }
        let status = RPCStatus(code: 3, message: "invalid span").protobuf()
        guard case .failure(.permanent(let m)) = outcome(response(400, status, contentType: "application/x-protobuf")) else { return XCTFail() }
        XCTAssertTrue(m.hasSuffix("HTTP 400: invalid span"), m)
        guard case .failure(.permanent(let tenant)) = outcome(response(503, Array("no org id".utf8))) else { return XCTFail("no org id must be permanent") }
        XCTAssertTrue(tenant.contains("X-Scope-OrgID"), tenant)
    }

    func item(spans: Int, bytes: Int = 100) -> QueueItem {
        QueueItem(data: TraceData(), spans: spans, bytes: bytes)
    }

    func testMemoryQueueIsBoundedByItsSizerAndByBytes() async throws {
        let q = MemoryQueue(capacity: 10, sizer: .items, memoryLimit: 1000)
        try await q.offer(item(spans: 6), blockFor: nil)
        try await q.offer(item(spans: 4), blockFor: nil)
        do {
            try await q.offer(item(spans: 1), blockFor: nil)
            XCTFail("over capacity")
        } catch {}
        _ = await q.take()
        try await q.offer(item(spans: 5), blockFor: nil)

        let bytes = MemoryQueue(capacity: 1000, sizer: .requests, memoryLimit: 250)
        try await bytes.offer(item(spans: 1, bytes: 200), blockFor: nil)
        do {
            try await bytes.offer(item(spans: 1, bytes: 100), blockFor: nil)
            XCTFail("over the byte cap")
        } catch {}
        // Bytes stay counted while an item is being sent, until its send finished.
        let taken = await bytes.take()
        do {
            try await bytes.offer(item(spans: 1, bytes: 100), blockFor: nil)
            XCTFail("the taken item's bytes are still in use")
        } catch {}
        await bytes.release(bytes: taken!.bytes)
        try await bytes.offer(item(spans: 1, bytes: 100), blockFor: nil)
        // An empty queue always takes one item, so an oversized request still moves.
        let big = MemoryQueue(capacity: 1, sizer: .items, memoryLimit: 10)
        try await big.offer(item(spans: 50, bytes: 5000), blockFor: nil)
        let size = await big.size
        XCTAssertEqual(size, 50)
    }

    /// An item handed straight to a waiting sending task counts against the byte cap until its
    /// send finished, like one that waited in the queue: a fast backend's idle consumers must
    /// not switch the cap off (each release of an uncounted item drove the count below zero).
    func testAnItemHandedToAWaitingTakerCountsUntilReleased() async throws {
        let q = MemoryQueue(capacity: 1000, sizer: .requests, memoryLimit: 250)
        async let waiting = q.take()
        // Let the take start waiting first, so that the offer hands the item over directly.
        while await q.waitingTakers == 0 { await Task.yield() }
        try await q.offer(item(spans: 1, bytes: 200), blockFor: nil)
        let taken = await waiting
        XCTAssertEqual(taken?.bytes, 200)
        try await q.offer(item(spans: 1, bytes: 40), blockFor: nil)
        do {
            try await q.offer(item(spans: 1, bytes: 100), blockFor: nil)
            XCTFail("the handed-over item's bytes are still in use")
        } catch {}
        await q.release(bytes: 200)
        try await q.offer(item(spans: 1, bytes: 100), blockFor: nil)
        // All three sent and released: nothing in use, and not below zero.
        _ = await q.take()
        _ = await q.take()
        await q.release(bytes: 40)
        await q.release(bytes: 100)
        let inUse = await q.bytesInUse
        XCTAssertEqual(inUse, 0)
    }

    /// A taken item is the sending task's alone: the queue must not keep its data alive after
    /// handing it out (it did, until its next compaction: up to 64 sent batches, a gigabyte of
    /// RSS under a slow backend). Seen through copy-on-write: an array that nobody else holds
    /// is mutated in place, one the queue still holds is copied first.
    func testATakenItemIsNotKeptByTheQueue() async throws {
        let q = MemoryQueue(capacity: 10, sizer: .requests, memoryLimit: 1 << 30)
        var payload = [UInt8](repeating: 1, count: 4096)
        let address = payload.withUnsafeBufferPointer { $0.baseAddress }
        // Built in a function of its own, so that no local of this test holds a second reference.
        func offer(holding bytes: [UInt8]) async throws {
            let span = Span(name: "s", attributes: [KeyValue("b", .bytes(bytes))])
            let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [span])])])
            try await q.offer(QueueItem(data: data, spans: 1, bytes: 4096), blockFor: nil)
        }
        try await offer(holding: payload)
        try await q.offer(item(spans: 1), blockFor: nil)  // the queue is not empty after the take
        var taken = await q.take()
        XCTAssertEqual(taken?.spans, 1)
        taken = nil  // the send is done
        _ = taken
        let afterwards = payload.withUnsafeMutableBufferPointer { $0.baseAddress }
        XCTAssertEqual(afterwards, address, "the queue still holds the taken item's data")
    }

    /// A timed take (in-queue batching) that gets its item must not wake other waiting sending
    /// tasks with "closed": they would stop for good.
    func testATimedTakeNeverWakesOtherTakers() async throws {
        let q = MemoryQueue(capacity: 100, sizer: .items, memoryLimit: 1 << 20)
        let timed = Task { await q.take(until: .now + .seconds(5)) }
        try await Task.sleep(for: .milliseconds(50))
        let plain = Task { await q.take() }
        try await Task.sleep(for: .milliseconds(50))
        try await q.offer(item(spans: 1), blockFor: nil)
        let first = await timed.value
        XCTAssertEqual(first?.spans, 1)
        try await Task.sleep(for: .milliseconds(100))
        try await q.offer(item(spans: 2), blockFor: nil)
        let second = await plain.value
        XCTAssertEqual(second?.spans, 2, "the plain taker was still waiting")

        // A deadline that passes ends only that taker's wait.
        let expiring = Task { await q.take(until: .now + .milliseconds(50)) }
        let waiting = Task { await q.take() }
        let expired = await expiring.value
        XCTAssertNil(expired)
        try await q.offer(item(spans: 3), blockFor: nil)
        let third = await waiting.value
        XCTAssertEqual(third?.spans, 3)
    }

    func testBlockingOfferWaitsForRoom() async throws {
        let q = MemoryQueue(capacity: 1, sizer: .requests, memoryLimit: 1 << 20)
        try await q.offer(item(spans: 1), blockFor: nil)
        let second = item(spans: 2)
        let blocked = Task { try await q.offer(second, blockFor: .seconds(5)) }
        try await Task.sleep(for: .milliseconds(100))
        let first = await q.take()
        XCTAssertEqual(first?.spans, 1)
        try await blocked.value
        let next = await q.take()
        XCTAssertEqual(next?.spans, 2)
        do {
            try await q.offer(item(spans: 3), blockFor: nil)
            try await q.offer(item(spans: 4), blockFor: .milliseconds(100))
            XCTFail("times out")
        } catch {}
    }

    /// A shutdown right after start waits for sending tasks that were not yet scheduled: they
    /// deliver what is queued instead of shutdown counting it as left behind (CI caught that race).
    func testShutdownRightAfterStartDeliversWhatIsQueued() async throws {
        for round in 0..<100 {
            var config = ExporterHelperConfig()
            config.queue.numConsumers = 4
            let sender = HeadersSetterTests.RecordingSender()
            let e = QueuedExporter(config: config, sender: sender, context: ProcessorFixture.context("otlphttp"))
            try await e.start(ComponentHost(extensions: [:], status: ServiceStatus()))
            try await e.consume(TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: "s"), Span(name: "t")])])]))
            await e.shutdown()
            let sent = sender.sent.withLockedValue { $0.map(\.spans) }
            XCTAssertEqual(sent, [2], "round \(round)")
            if sent != [2] { break }
        }
    }

    /// In-queue batching by metadata: a request that may not join the batch being gathered is
    /// carried to the next one and sent at its flush timeout, even while another sending task
    /// holds the gathering turn waiting on an empty queue (it waited for new data before).
    func testACarriedRequestIsSentWhileAnotherTaskWaitsOnAnEmptyQueue() async throws {
        var config = ExporterHelperConfig()
        config.queue.numConsumers = 2
        var batch = ExporterHelperConfig.Batch()
        batch.flushTimeout = .milliseconds(100)
        batch.minSize = 1000
        batch.partitionKeys = ["tenant"]
        config.queue.batch = batch
        let sender = HeadersSetterTests.RecordingSender()
        let e = QueuedExporter(config: config, sender: sender, context: ProcessorFixture.context("otlphttp"))
        try await e.start(ComponentHost(extensions: [:], status: ServiceStatus()))
        try await e.consume(TestData(spans: 1), metadata: ["tenant": ["a"]])
        try await e.consume(TestData(spans: 2), metadata: ["tenant": ["b"]])
        var sent: [Int] = []
        for _ in 0..<40 where sent.count < 2 {
            try await Task.sleep(for: .milliseconds(50))
            sent = sender.sent.withLockedValue { $0.map(\.spans) }
        }
        XCTAssertEqual(sent.sorted(), [1, 2])
        await e.shutdown()
    }

    func testPersistentStoreSkipsATornTailButKeepsTheRecordsBeforeIt() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-q-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FileQueueStore(directory: dir, fsync: false)
        var records: [FileQueueStore.Record] = []
        for i in 1...3 {
            let data = TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: [Span(name: "s\(i)")])])])
            records.append(try store.write(sequence: UInt64(i), spans: 1, payload: OTLPProtobufEncoder.encode(data)))
        }
        // Tear the last record (as a crash mid-write without the rename protection would) and
        // leave an unfinished .tmp behind.
        let last = store.path(records[2])
        let size = try FileManager.default.attributesOfItem(atPath: last)[.size] as! Int
        truncate(last, off_t(size - 3))
        _ = FileManager.default.createFile(atPath: dir + "/00000000000000000004.tmp", contents: Data([1, 2, 3]))

        let queue = PersistentQueue(store: store, capacity: 100, sizer: .requests, logger: .init(label: "test"))
        var names: [String] = []
        while let item = await queue.take(until: .now + .milliseconds(50)) {
            names.append(item.data.resourceSpans[0].scopeSpans[0].spans[0].name)
            await queue.ack(item)
        }
        XCTAssertEqual(names, ["s1", "s2"])
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertEqual(left.filter { $0.hasSuffix(".corrupt") }.count, 1, "\(left)")
        XCTAssertFalse(left.contains { $0.hasSuffix(".tmp") })
        XCTAssertFalse(left.contains { $0.hasSuffix(".rec") }, "acked records are deleted")
    }

    func testPersistentQueueKeepsUnackedRecordsForTheNextStart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-q2-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try FileQueueStore(directory: dir, fsync: true)
        let q1 = PersistentQueue(store: store, capacity: 2, sizer: .requests, logger: .init(label: "test"))
        try await q1.offer(TestData(spans: 2), spans: 2, metadata: [:])
        try await q1.offer(TestData(spans: 3), spans: 3, metadata: [:])
        do {
            try await q1.offer(TestData(spans: 1), spans: 1, metadata: [:])
            XCTFail("full")
        } catch {}
        let inFlight = await q1.take()
        XCTAssertEqual(inFlight?.spans, 2)
        // "Crash": a new queue over the same directory sees both, the in-flight one first.
        let q2 = PersistentQueue(store: store, capacity: 2, sizer: .requests, logger: .init(label: "test"))
        let a = await q2.take()
        let b = await q2.take()
        XCTAssertEqual([a?.spans, b?.spans], [2, 3])
    }

    func TestData(spans: Int) -> TraceData {
        TraceData(resourceSpans: [ResourceSpans(scopeSpans: [ScopeSpans(spans: Array(repeating: Span(name: "x"), count: spans))])])
    }

    /// The exporter's encoding buffers: reused memory gives the same bytes as fresh memory
    /// (a smaller batch after a larger one shows none of the earlier bytes), a buffer that
    /// grew past the limit is not kept, and the pool keeps at most its limit.
    func testReusedEncodingBuffersGiveTheSameBytes() {
        let storage = ProtobufEncodeStorage()
        for spans in [3, 40, 1, 40, 7] {
            let data = TestData(spans: spans)
            let reused = OTLPProtobufEncoder.withEncoded(data, reusing: storage) { Array($0) }
            XCTAssertEqual(reused, OTLPProtobufEncoder.encode(data), "\(spans) spans")
            XCTAssertGreaterThan(storage.retainedBytes, 0, "kept for the next batch")
        }
        let kept = storage.retainedBytes
        _ = OTLPProtobufEncoder.withEncoded(TestData(spans: 1), reusing: storage) { $0.count }
        XCTAssertEqual(storage.retainedBytes, kept, "a smaller batch reuses the memory it finds")
        _ = OTLPProtobufEncoder.withEncoded(TestData(spans: 200), reusing: storage, keepingAtMost: 1024) { $0.count }
        XCTAssertEqual(storage.retainedBytes, 0, "a buffer grown past the limit is freed")

        let pool = EncodeBufferPool(limit: 2)
        let taken = (0..<3).map { _ in pool.take() }
        XCTAssertEqual(Set(taken.map { ObjectIdentifier($0) }).count, 3, "an empty pool hands out new buffers")
        taken.forEach(pool.put)
        XCTAssertEqual(pool.keptCount, 2)
        XCTAssertTrue(pool.take() === taken[1], "the last one given back is handed out first")
    }

    func testConfigValidation() {
        func problems(_ exporter: String) -> [String] {
            let yaml = """
                receivers: {otlp: {protocols: {http: }}}
                exporters:
                  otlphttp:
                \(exporter)
                service: {pipelines: {traces: {receivers: [otlp], exporters: [otlphttp]}}}
                """
            do {
                _ = try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: yaml)
                return []
            } catch let e as ConfigErrors {
                return e.errors.map(\.description)
            } catch {
                return ["\(error)"]
            }
        }
        XCTAssertEqual(problems("    endpoint: http://tempo:4318"), [])
        XCTAssertTrue(problems("    compression: gzip").contains { $0.hasPrefix("exporters.otlphttp.endpoint: either endpoint or traces_endpoint must be specified") })
        XCTAssertTrue(problems("    endpoint: tempo:4318").contains { $0.hasPrefix("exporters.otlphttp.endpoint: expected a URL") })
        XCTAssertTrue(problems("    endpoint: http://t\n    sending_queue: {num_consumers: 0}").contains { $0.hasPrefix("exporters.otlphttp.sending_queue.num_consumers: `num_consumers` must be positive") })
        XCTAssertTrue(problems("    endpoint: http://t\n    sending_queue: {queue_size: -1}").contains { $0.hasPrefix("exporters.otlphttp.sending_queue.queue_size:") })
        XCTAssertTrue(problems("    endpoint: http://t\n    retry_on_failure: {randomization_factor: 2}").contains { $0.hasPrefix("exporters.otlphttp.retry_on_failure.randomization_factor:") })
        XCTAssertTrue(problems("    endpoint: http://t\n    sending_queue: {storage: file_storage}").contains {
            $0 == #"exporters.otlphttp.sending_queue.storage: references extension "file_storage" which is not configured in extensions"#
        })
        XCTAssertTrue(problems("    endpoint: http://t\n    sending_queue: {storage: file_storage, wait_for_result: true}").contains { $0.contains("wait_for_result") })
        XCTAssertTrue(problems("    endpoint: http://t\n    sending_queue: {queue_sise: 5}").contains { $0.contains(#"unknown key "queue_sise" (did you mean "queue_size"?)"#) })
        XCTAssertTrue(problems("    endpoint: http://t\n    encoding: xml").contains { $0.hasPrefix("exporters.otlphttp.encoding:") })
        XCTAssertTrue(problems("    endpoint: http://t\n    compression_params: {level: 12}").contains { $0.contains("level must be 1..9") })
        XCTAssertTrue(problems("    endpoint: https://t\n    tls: {cert_file: /x.pem}").contains { $0.contains("set both cert_file and key_file") })

        let ok = try? ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: """
            receivers: {otlp: {protocols: {http: }}}
            exporters:
              otlp_http/tempo:
                endpoint: https://tempo.example.com/
                headers: {X-Scope-OrgID: acme}
                sending_queue: {sizer: items, queue_size: 50000, batch: {min_size: 1000}, blocking: true}
            service: {pipelines: {traces: {receivers: [otlp], exporters: [otlp_http/tempo]}}}
            """)
        let c = ok?.exporters[ComponentID(type: "otlp_http", name: "tempo")]?.config as? OTLPHTTPExporterConfig
        XCTAssertEqual(c?.target, HTTPTarget(tls: true, host: "tempo.example.com", port: 443, path: "/v1/traces"))
        XCTAssertEqual(c?.helper.queue.blockOnOverflow, true, "the old name `blocking` is accepted")
        XCTAssertEqual(c?.helper.queue.batch?.minSize, 1000)
        XCTAssertEqual(c?.timeout, .seconds(30))
        XCTAssertEqual(c?.compression, .gzip)
    }
}
