import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Where to send: scheme, host, port and path of an `http://` or `https://` URL.
public struct HTTPTarget: Sendable, Equatable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    public var path: String

    public init(tls: Bool, host: String, port: Int, path: String) {
        self.tls = tls
        self.host = host
        self.port = port
        self.path = path
    }

    /// The host as a URL or a Host header writes it: an IPv6 literal in brackets.
    var bracketedHost: String { host.contains(":") ? "[\(host)]" : host }

    public var description: String { "\(tls ? "https" : "http")://\(bracketedHost):\(port)\(path)" }

    /// Parses `http(s)://host[:port][/path][?query]` (a fragment is dropped). Returns nil for
    /// anything else. ASCII URLs are read here; others go through URLComponents, whose parser
    /// (IDNA through ICU) loaded about a megabyte of code and Unicode data into every process.
    public static func parse(_ text: String) -> HTTPTarget? {
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return parseWithURLComponents(text) }
        guard let sep = text.range(of: "://") else { return nil }
        let scheme = text[..<sep.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let tls = scheme == "https"
        var rest = text[sep.upperBound...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        // user:password@ is not sent anywhere; the host follows it.
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard !host.isEmpty, host.utf8.allSatisfy({ isHostByte($0) }) else { return nil }
        }
        var port = tls ? 443 : 80
        if let portText, !portText.isEmpty {
            guard portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let p = Int(portText), p <= 65535 else { return nil }
            port = p
        }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        return HTTPTarget(tls: tls, host: String(host), port: port, path: path)
    }

    /// Letters, digits and the punctuation a registered name may hold (RFC 3986 unreserved and
    /// sub-delims, and percent-encoding).
    private static func isHostByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return "-._~%!$&'()*+,;=".utf8.contains(b)
        }
    }

    /// Foundation's parse of an endpoint (also what the tests compare the fast path with).
    static func parseWithURLComponents(_ text: String) -> HTTPTarget? {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              var host = url.host, !host.isEmpty else { return nil }
        // URLComponents keeps an IPv6 literal's brackets; connecting needs the bare address.
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let tls = scheme == "https"
        var path = url.percentEncodedPath
        if path.isEmpty { path = "/" }
        if let q = url.percentEncodedQuery { path += "?" + q }
        return HTTPTarget(tls: tls, host: host, port: url.port ?? (tls ? 443 : 80), path: path)
    }
}

public struct HTTPClientResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer
}

/// Why a request failed before an answer arrived.
public enum HTTPClientError: Error, CustomStringConvertible {
    case connect(String)
    case tls(String)
    case timeout(Duration)
    case connectionClosed
    case responseTooLarge(Int)

    public var description: String {
        switch self {
        case .connect(let m): return "cannot connect: \(m)"
        case .tls(let m): return "TLS handshake failed: \(m)"
        case .timeout(let d): return "no answer within \(d)"
        case .connectionClosed: return "the server closed the connection before answering"
        case .responseTooLarge(let n): return "response body larger than \(n) bytes"
        }
    }
}

/// One keep-alive HTTP/1.1 connection used by one task at a time (an exporter's sending task):
/// connects lazily, reconnects after errors, and applies a whole-request timeout. `close()` may
/// be called from anywhere (shutdown aborts a send in flight that way).
public final class HTTPClientConnection: Sendable {
    private let current = NIOLockedValueBox<(channel: any Channel, ended: ConnectionEnd)?>(nil)
    private var channel: (any Channel)? { current.withLockedValue { $0?.channel } }
    let target: HTTPTarget
    let tls: NIOSSLContext?
    let serverName: String?
    let group: any EventLoopGroup
    let maxResponseBody: Int

    public init(target: HTTPTarget, tls: NIOSSLContext?, serverName: String?, group: any EventLoopGroup, maxResponseBody: Int = 64 * 1024) {
        self.target = target
        self.tls = tls
        self.serverName = serverName
        self.group = group
        self.maxResponseBody = maxResponseBody
    }

    deinit {
        channel?.close(promise: nil)
    }

    public func close() {
        let c = current.withLockedValue { c in defer { c = nil }; return c }
        c?.channel.close(promise: nil)
    }

    private func connect(timeout: Duration) async throws -> (channel: any Channel, ended: ConnectionEnd) {
        if let c = current.withLockedValue({ $0 }), c.channel.isActive { return c }
        current.withLockedValue { $0 = nil }
        let ended = ConnectionEnd()
        let tls = self.tls
        // SNI cannot carry an IP address; without a name NIOSSL checks the certificate against the peer's IP.
        let isIP = target.host.contains(":") || target.host.allSatisfy { $0.isNumber || $0 == "." }
        let sni = serverName ?? (isIP ? nil : target.host)
        let maxBody = maxResponseBody
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount.nanoseconds(timeout.totalNanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: sni)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(maxBody: maxBody, ended: ended))
                }
            }
        do {
            let c = try await bootstrap.connect(host: target.host, port: target.port).get()
            current.withLockedValue { $0 = (c, ended) }
            return (c, ended)
        } catch {
            throw HTTPClientError.connect("\(target.host):\(target.port): \(Self.describe(error))")
        }
    }

    /// Sends one request and waits for the whole answer (at most `timeout` in all).
    public func send(method: HTTPMethod = .POST, headers: HTTPHeaders, body: ByteBuffer, timeout: Duration) async throws -> HTTPClientResponse {
        let start = ContinuousClock.now
        let (channel, ended) = try await connect(timeout: timeout)
        let remaining = timeout - (ContinuousClock.now - start)
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target.path)
        head.headers = headers
        let hostHeader = (target.tls && target.port == 443) || (!target.tls && target.port == 80) ? target.bracketedHost : "\(target.bracketedHost):\(target.port)"
        if !head.headers.contains(name: "Host") { head.headers.add(name: "Host", value: hostHeader) }
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        let promise = channel.eventLoop.makePromise(of: HTTPClientResponse.self)
        let requestHead = head
        channel.eventLoop.execute {
            do {
                let collector = try channel.pipeline.syncOperations.handler(type: ResponseCollector.self)
                collector.expect(promise)
                channel.write(HTTPClientRequestPart.head(requestHead), promise: nil)
                if body.readableBytes > 0 { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            } catch {
                // The handlers are gone once the connection has closed: report why it closed.
                promise.fail(ended.error ?? error)
            }
        }
        let nanos = max(Int64(1), remaining.totalNanoseconds)
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(nanos)) {
            promise.fail(HTTPClientError.timeout(timeout))
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            let response = try await promise.futureResult.get()
            if response.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) {
                close()
            }
            return response
        } catch let e as HTTPClientError {
            close()
            throw e
        } catch {
            close()
            if Self.isTLSError(error) { throw HTTPClientError.tls(Self.describe(error)) }
            throw HTTPClientError.connect(Self.describe(error))
        }
    }

    static func isTLSError(_ error: any Error) -> Bool {
        ConnectionFailureDiagnosis.isTLSError(error)
    }

    static func describe(_ error: any Error) -> String {
        ConnectionFailureDiagnosis.describe(error, transport: .http)
    }
}

/// The first reason a connection ended, shared between its handler and the sending task.
final class ConnectionEnd: Sendable {
    private let first = NIOLockedValueBox<(any Error)?>(nil)

    var error: (any Error)? { first.withLockedValue { $0 } }

    func record(_ error: any Error) {
        first.withLockedValue { if $0 == nil { $0 = error } }
    }
}

/// Collects one response (head, body up to a cap, end) and completes the pending promise.
final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var promise: EventLoopPromise<HTTPClientResponse>?
    /// Why the connection ended. A TLS handshake can fail before the request is queued; the
    /// request then fails with that cause at once instead of waiting for its timeout.
    private let ended: ConnectionEnd
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private let maxBody: Int

    init(maxBody: Int, ended: ConnectionEnd) {
        self.maxBody = maxBody
        self.ended = ended
    }

    func expect(_ p: EventLoopPromise<HTTPClientResponse>) {
        if let failure = ended.error {
            p.fail(failure)
            return
        }
        promise = p
        head = nil
        body.clear()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(var chunk):
            // Keep only the start of a large body: it is for log lines and partial-success parsing.
            let room = maxBody - body.readableBytes
            if room > 0, let slice = chunk.readSlice(length: min(room, chunk.readableBytes)) {
                var s = slice
                body.writeBuffer(&s)
            }
        case .end:
            guard let h = head, let p = promise else { return }
            promise = nil
            p.succeed(HTTPClientResponse(status: h.status, headers: h.headers, body: body))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ended.record(error)
        promise?.fail(error)
        promise = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended.record(HTTPClientError.connectionClosed)
        promise?.fail(HTTPClientError.connectionClosed)
        promise = nil
        context.fireChannelInactive()
    }
}
