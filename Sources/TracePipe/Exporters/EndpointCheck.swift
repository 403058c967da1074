import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import TraceModel

/// `tracepipe validate --check-endpoints`: tries each network exporter's endpoint the way a send
/// would (DNS, TCP, TLS handshake with the exporter's TLS settings, one HTTP request) and says
/// which step failed and why. Over HTTP a GET is enough: any HTTP answer proves the path works;
/// over gRPC an Export call with no spans goes the whole way (Tempo answers it OK).
public enum EndpointCheck {
    public struct Outcome: Sendable {
        public var exporter: ComponentID
        public var endpoint: String
        public var ok: Bool
        public var detail: String
    }

    public static func run(_ config: ServiceConfig, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, timeout: Duration = .seconds(5)) async -> [Outcome] {
        var out: [Outcome] = []
        for (id, component) in config.exporters.sorted(by: { $0.key < $1.key }) {
            if let c = component.config as? OTLPHTTPExporterConfig {
                out.append(await check(id: id, config: c, group: group, timeout: timeout))
            } else if let c = component.config as? OTLPGRPCExporterConfig {
                out.append(await check(id: id, config: c, auth: c.auth.flatMap { config.extensions[$0.authenticator] },
                                       group: group, timeout: timeout))
            }
        }
        return out
    }

    static func check(id: ComponentID, config c: OTLPHTTPExporterConfig, group: any EventLoopGroup, timeout: Duration) async -> Outcome {
        let target = c.target
        func fail(_ step: String, _ why: String) -> Outcome {
            Outcome(exporter: id, endpoint: "\(target)", ok: false, detail: "\(step) failed: \(why)")
        }
        let (addresses, dnsError) = resolve(target.host, port: target.port)
        if let dnsError { return fail("DNS lookup of \(target.host)", dnsError) }
        let tls: NIOSSLContext?
        do {
            tls = target.tls ? try c.tls.makeContext() : nil
        } catch {
            return fail("loading the TLS settings", "\(error)")
        }
        let connection = HTTPClientConnection(target: target, tls: tls, serverName: c.tls.serverNameOverride, group: group)
        defer { connection.close() }
        do {
            let response = try await connection.send(method: .GET, headers: HTTPHeaders(), body: ByteBuffer(), timeout: timeout)
            let steps = target.tls ? "TCP connect, TLS handshake" : "TCP connect"
            return Outcome(exporter: id, endpoint: "\(target)", ok: true,
                           detail: "ok: DNS (\(addresses) address\(addresses == 1 ? "" : "es")), \(steps), HTTP answer \(response.status.code) to a GET")
        } catch {
            return fail("connecting", "\(error)")
        }
    }

    /// The headers an exporter's authenticator sets on a request without request metadata
    /// (a `from_context` header gets its default), so the check's call is authorised like a real one.
    /// The extension is built by its own factory, as the service would build it.
    static func authenticatorEdits(_ extensionConfig: ConfiguredComponent?, group: any EventLoopGroup) async throws -> [HeaderEdit] {
        guard let c = extensionConfig else { return [] }
        let context = ComponentContext(id: c.id, kind: .extension, logger: Logger(label: "check-endpoints"),
                                       eventLoopGroup: group, status: ServiceStatus())
        guard let authenticator = try c.instantiate(context, next: nil) as? any ClientAuthenticator else { return [] }
        try await authenticator.start(ComponentHost(extensions: [:], status: ServiceStatus()))
        let edits = Result { () throws(ExportError) in try authenticator.headerEdits(for: [:]) }
        await authenticator.shutdown()
        return try edits.get()
    }

    static func check(id: ComponentID, config c: OTLPGRPCExporterConfig, auth: ConfiguredComponent? = nil, group: any EventLoopGroup, timeout: Duration) async -> Outcome {
        let endpoint = "\(c.plaintext ? "grpc" : "grpcs")://\(c.host.contains(":") ? "[\(c.host)]" : c.host):\(c.port)"
        func fail(_ step: String, _ why: String) -> Outcome {
            Outcome(exporter: id, endpoint: endpoint, ok: false, detail: "\(step) failed: \(why)")
        }
        let (addresses, dnsError) = resolve(c.host, port: c.port)
        if let dnsError { return fail("DNS lookup of \(c.host)", dnsError) }
        let lane: OTLPGRPCLane
        do {
            lane = try OTLPGRPCLane(sender: OTLPGRPCSender(config: c, group: group, logger: Logger(label: "check-endpoints")))
        } catch {
            return fail("loading the TLS settings", "\(error)")
        }
        defer { lane.close() }
        let edits: [HeaderEdit]
        do {
            edits = try await authenticatorEdits(auth, group: group)
        } catch {
            return fail("preparing the auth.authenticator headers", "\(error)")
        }
        do {
            _ = try await lane.send(TraceData(), headerEdits: edits, timeout: timeout)
            let steps = c.plaintext ? "TCP connect" : "TCP connect, TLS handshake"
            return Outcome(exporter: id, endpoint: endpoint, ok: true,
                           detail: "ok: DNS (\(addresses) address\(addresses == 1 ? "" : "es")), \(steps), an Export call with no spans answered OK")
        } catch {
            return fail("an Export call with no spans", "\(error)")
        }
    }

    /// Resolves a host name the way the connection will (any address family).
    static func resolve(_ host: String, port: Int) -> (addresses: Int, error: String?) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { return (0, String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        var n = 0
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let a = p { n += 1; p = a.pointee.ai_next }
        return (n, nil)
    }
}
