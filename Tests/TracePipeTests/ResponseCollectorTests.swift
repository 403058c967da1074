import NIOCore
import NIOEmbedded
@testable import TracePipe
import XCTest

/// A connection that ends before its request is queued (a TLS handshake refused by the client's
/// verification, a server closing at once) must fail that request at once, with the cause.
final class ResponseCollectorTests: XCTestCase {
    struct HandshakeRefused: Error {}

    func testErrorBeforeTheRequestFailsItAtOnceWithTheCause() throws {
        let channel = EmbeddedChannel()
        let ended = ConnectionEnd()
        let collector = ResponseCollector(maxBody: 1024, ended: ended)
        try channel.pipeline.syncOperations.addHandler(collector)
        channel.pipeline.fireErrorCaught(HandshakeRefused())
        XCTAssertTrue(ended.error is HandshakeRefused)

        let promise = channel.eventLoop.makePromise(of: HTTPClientResponse.self)
        collector.expect(promise)
        XCTAssertThrowsError(try promise.futureResult.wait()) { XCTAssertTrue($0 is HandshakeRefused, "\($0)") }
        _ = try? channel.finish()
    }

    func testCloseBeforeTheRequestFailsIt() throws {
        let channel = EmbeddedChannel()
        let ended = ConnectionEnd()
        let collector = ResponseCollector(maxBody: 1024, ended: ended)
        try channel.pipeline.syncOperations.addHandler(collector)
        channel.pipeline.fireChannelInactive()
        let promise = channel.eventLoop.makePromise(of: HTTPClientResponse.self)
        collector.expect(promise)
        XCTAssertThrowsError(try promise.futureResult.wait())
        _ = try? channel.finish()
    }
}
