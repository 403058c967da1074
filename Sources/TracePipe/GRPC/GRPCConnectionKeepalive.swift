import NIOCore
import NIOHTTP2

/// grpc-go's server connection management, on one HTTP/2 connection (`keepalive` keys):
/// - `max_connection_idle`: no call for this long → GOAWAY and close;
/// - `max_connection_age` (+ `_grace`): GOAWAY after this long, close after the grace period;
/// - `time` / `timeout`: ping a connection that has been quiet, close it if the ping goes unanswered;
/// - `enforcement_policy`: clients pinging more often than `min_time` (or without calls, unless
///   `permit_without_stream`) get GOAWAY `ENHANCE_YOUR_CALM` ("too_many_pings") after 2 strikes.
/// It also lets shutdown drain a connection: GOAWAY, then close once its calls are done. The otlp
/// exporter uses it as a client: pings only (`keepalive.time`/`timeout`), and while no call is
/// open only with `permit_without_stream`.
final class GRPCConnectionKeepalive: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    struct Settings: Sendable {
        var maxIdle: TimeAmount?
        var maxAge: TimeAmount?
        var maxAgeGrace: TimeAmount?
        var pingTime: TimeAmount
        var pingTimeout: TimeAmount
        var minPingInterval: TimeAmount
        var permitWithoutStream: Bool
        /// Client side: no policing of the peer's pings, and no pings of our own while idle
        /// unless `permitWithoutStream`.
        var isClient = false
    }

    /// Fired (as a user outbound event) to drain the connection at shutdown.
    struct Drain: Sendable {}

    private let settings: Settings
    private var openStreams = 0
    private var idleTimer: Scheduled<Void>?
    private var ageTimer: Scheduled<Void>?
    private var pingTimer: Scheduled<Void>?
    private var pingTimeoutTimer: Scheduled<Void>?
    private var lastRead = NIODeadline.uptimeNanoseconds(0)
    private var lastClientPing: NIODeadline?
    /// When a call last started or ended: pings right after are flow-control (BDP) pings, which
    /// grpc-go exempts by resetting its strikes whenever it sends data.
    private var lastCallActivity = NIODeadline.uptimeNanoseconds(0)
    private var pingStrikes = 0
    private var draining = false
    /// `handlerAdded` and `channelActive` may both see an active channel: arm the timers once.
    private var started = false
    private static let pingData = HTTP2PingData(withInteger: 0x7472_6163_6570_6970)  // "tracepip"

    init(settings: Settings) {
        self.settings = settings
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        for t in [idleTimer, ageTimer, pingTimer, pingTimeoutTimer] { t?.cancel() }
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        lastRead = context.eventLoop.now
        let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        armIdle(context)
        if let age = settings.maxAge {
            ageTimer = context.eventLoop.scheduleTask(in: age) {
                let (me, ctx) = loop.value
                me.goAway(ctx, code: .noError)
                if let grace = me.settings.maxAgeGrace {
                    ctx.eventLoop.scheduleTask(in: grace) { loop.value.1.close(promise: nil) }
                }
            }
        }
        armPing(context)
    }

    private func armIdle(_ context: ChannelHandlerContext) {
        idleTimer?.cancel()
        guard let idle = settings.maxIdle, openStreams == 0 else { return }
        let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: idle) {
            let (me, ctx) = loop.value
            me.goAway(ctx, code: .noError)
            ctx.close(promise: nil)
        }
    }

    private func armPing(_ context: ChannelHandlerContext) {
        pingTimer?.cancel()
        let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pingTimer = context.eventLoop.scheduleTask(deadline: lastRead + settings.pingTime) {
            let (me, ctx) = loop.value
            guard ctx.eventLoop.now - me.lastRead >= me.settings.pingTime else { return me.armPing(ctx) }
            if me.settings.isClient && me.openStreams == 0 && !me.settings.permitWithoutStream {
                me.lastRead = ctx.eventLoop.now
                return me.armPing(ctx)
            }
            ctx.writeAndFlush(me.wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.pingData, ack: false))), promise: nil)
            me.pingTimeoutTimer = ctx.eventLoop.scheduleTask(in: me.settings.pingTimeout) { loop.value.1.close(promise: nil) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = context.eventLoop.now
        let frame = unwrapInboundIn(data)
        if case .ping(let d, let ack) = frame.payload {
            if ack, d == Self.pingData {
                pingTimeoutTimer?.cancel()
                armPing(context)
            } else if !ack && !settings.isClient {
                policeClientPing(context)
            }
        }
        context.fireChannelRead(data)
    }

    /// grpc-go's enforcement: a ping sooner than `min_time` after the last one, or any ping while
    /// no call is open when that is not permitted, is a strike; the third strike ends the connection.
    private func policeClientPing(_ context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        defer { lastClientPing = now }
        guard now - lastCallActivity >= .seconds(1) else { return }
        let tooSoon = lastClientPing.map { now - $0 < settings.minPingInterval } ?? false
        let notAllowed = openStreams == 0 && !settings.permitWithoutStream
        guard tooSoon || notAllowed else { return }
        pingStrikes += 1
        if pingStrikes > 2 {
            goAway(context, code: .enhanceYourCalm, debug: "too_many_pings")
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is NIOHTTP2StreamCreatedEvent {
            openStreams += 1
            idleTimer?.cancel()
            pingStrikes = 0
            lastCallActivity = context.eventLoop.now
        } else if event is StreamClosedEvent {
            openStreams = max(0, openStreams - 1)
            pingStrikes = 0
            lastCallActivity = context.eventLoop.now
            if openStreams == 0 {
                if draining { context.close(promise: nil) } else { armIdle(context) }
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is Drain else { return context.triggerUserOutboundEvent(event, promise: promise) }
        draining = true
        goAway(context, code: .noError)
        if openStreams == 0 { context.close(promise: nil) }
        promise?.succeed()
    }

    private func goAway(_ context: ChannelHandlerContext, code: HTTP2ErrorCode, debug: String? = nil) {
        let opaque = debug.map { context.channel.allocator.buffer(string: $0) }
        let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: code, opaqueData: opaque))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
