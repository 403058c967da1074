import NIOCore
import NIOEmbedded
import NIOHTTP2
import XCTest

@testable import TracePipe

/// grpc-go's connection management on one connection, with a virtual clock.
final class GRPCConnectionKeepaliveTests: XCTestCase {
    func make(idle: Int64? = nil, age: Int64? = nil, pingTime: Int64 = 7200, pingTimeout: Int64 = 20,
              minPing: Int64 = 300, permitWithoutStream: Bool = false, isClient: Bool = false) throws -> (EmbeddedChannel, EmbeddedEventLoop) {
        let loop = EmbeddedEventLoop()
        let settings = GRPCConnectionKeepalive.Settings(
            maxIdle: idle.map { .seconds($0) }, maxAge: age.map { .seconds($0) }, maxAgeGrace: .seconds(1),
            pingTime: .seconds(pingTime), pingTimeout: .seconds(pingTimeout), minPingInterval: .seconds(minPing),
            permitWithoutStream: permitWithoutStream, isClient: isClient)
        let channel = EmbeddedChannel(handler: GRPCConnectionKeepalive(settings: settings), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, loop)
    }

    func goAwayCode(_ channel: EmbeddedChannel) throws -> HTTP2ErrorCode? {
        while let frame = try channel.readOutbound(as: HTTP2Frame.self) {
            if case .goAway(_, let code, _) = frame.payload { return code }
        }
        return nil
    }

    func testIdleConnectionIsClosedButNotWhileACallIsOpen() throws {
        let (channel, loop) = try make(idle: 10)
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2StreamCreatedEvent(streamID: 1, localInitialWindowSize: nil, remoteInitialWindowSize: nil))
        loop.advanceTime(by: .seconds(30))
        XCTAssertTrue(channel.isActive, "a call is open")
        channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: nil))
        loop.advanceTime(by: .seconds(9))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .seconds(1))
        XCTAssertEqual(try goAwayCode(channel), .noError)
        XCTAssertFalse(channel.isActive, "idle for max_connection_idle")
    }

    func testMaxAgeSendsGoAwayThenClosesAfterTheGrace() throws {
        let (channel, loop) = try make(age: 60)
        loop.advanceTime(by: .seconds(60))
        XCTAssertEqual(try goAwayCode(channel), .noError)
        XCTAssertTrue(channel.isActive, "calls in flight get the grace period")
        loop.advanceTime(by: .seconds(1))
        XCTAssertFalse(channel.isActive)
    }

    func testUnansweredPingClosesTheConnectionAnAnsweredOneDoesNot() throws {
        let (channel, loop) = try make(pingTime: 5, pingTimeout: 2)
        loop.advanceTime(by: .seconds(5))
        var ping: HTTP2PingData?
        while let f = try channel.readOutbound(as: HTTP2Frame.self) { if case .ping(let d, false) = f.payload { ping = d } }
        let data = try XCTUnwrap(ping, "pinged after keepalive.time of silence")
        try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .ping(data, ack: true)))
        loop.advanceTime(by: .seconds(3))
        XCTAssertTrue(channel.isActive, "the ping was answered")
        loop.advanceTime(by: .seconds(5))
        loop.advanceTime(by: .seconds(2))
        XCTAssertFalse(channel.isActive, "the second ping went unanswered for keepalive.timeout")
    }

    /// The exporter's side: pings only while a call is open (unless permit_without_stream), and a
    /// server's pings are answered, never policed.
    func testClientPingsOnlyDuringCalls() throws {
        let (channel, loop) = try make(pingTime: 5, pingTimeout: 2, minPing: 300, isClient: true)
        loop.advanceTime(by: .seconds(20))
        XCTAssertNil(try channel.readOutbound(as: HTTP2Frame.self), "no ping without a call")
        for _ in 0..<5 {
            try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 1), ack: false)))
        }
        XCTAssertTrue(channel.isActive, "a server's pings are not policed")
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2StreamCreatedEvent(streamID: 1, localInitialWindowSize: nil, remoteInitialWindowSize: nil))
        loop.advanceTime(by: .seconds(5))
        loop.advanceTime(by: .seconds(5))
        var pinged = false
        while let f = try channel.readOutbound(as: HTTP2Frame.self) { if case .ping(_, false) = f.payload { pinged = true } }
        XCTAssertTrue(pinged, "a quiet connection with a call open is pinged")
        loop.advanceTime(by: .seconds(2))
        XCTAssertFalse(channel.isActive, "and dropped when the ping is not answered")
    }

    /// Clients (grpc-go) send flow-control pings around calls: those are not strikes.
    func testPingsAroundCallsAreNotPoliced() throws {
        let (channel, loop) = try make(minPing: 300)
        for id in stride(from: 1, to: 21, by: 2) {
            channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2StreamCreatedEvent(streamID: HTTP2StreamID(id), localInitialWindowSize: nil, remoteInitialWindowSize: nil))
            try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 2), ack: false)))
            channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: HTTP2StreamID(id), reason: nil))
            try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 2), ack: false)))
            loop.advanceTime(by: .milliseconds(100))
        }
        XCTAssertNil(try goAwayCode(channel))
        XCTAssertTrue(channel.isActive)
    }

    func testTooManyClientPingsEndTheConnection() throws {
        let (channel, loop) = try make(minPing: 300)
        loop.advanceTime(by: .seconds(2))
        for _ in 0..<3 {
            try channel.writeInbound(HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 1), ack: false)))
        }
        XCTAssertEqual(try goAwayCode(channel), .enhanceYourCalm)
        XCTAssertFalse(channel.isActive)
    }

    func testDrainClosesOnceTheLastCallEnds() throws {
        let (channel, _) = try make()
        channel.pipeline.fireUserInboundEventTriggered(NIOHTTP2StreamCreatedEvent(streamID: 1, localInitialWindowSize: nil, remoteInitialWindowSize: nil))
        channel.pipeline.triggerUserOutboundEvent(GRPCConnectionKeepalive.Drain(), promise: nil)
        XCTAssertEqual(try goAwayCode(channel), .noError)
        XCTAssertTrue(channel.isActive, "the open call finishes first")
        channel.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: 1, reason: nil))
        XCTAssertFalse(channel.isActive)
    }
}
