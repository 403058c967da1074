import FoundationEssentials
import Logging
import NIOCore
import NIOHTTP1

/// Serves `/metrics` on `service.telemetry.metrics`' address; a service of its own, started
/// first and stopped last.
final class MetricsEndpoint: Component {
    let address: Endpoint
    let registry: TelemetryRegistry
    let process: any ProcessStatistics
    let group: any EventLoopGroup
    let logger: Logger
    private let server = ServerBox()

    init(address: Endpoint, registry: TelemetryRegistry, process: any ProcessStatistics, group: any EventLoopGroup, logger: Logger) {
        self.address = address
        self.registry = registry
        self.process = process
        self.group = group
        self.logger = logger
    }

    func start(_ host: ComponentHost) async throws {
        let options = HTTPServer.Options(maxBodySize: 64 * 1024) { _ in .text(.payloadTooLarge, "too large") }
        let (registry, process) = (registry, process)
        let s: HTTPServer
        do {
            s = try await HTTPServer.start(host: address.host, port: address.port, group: group, options: options) { request in
                guard request.path == "/metrics" else { return .text(.notFound, "404 page not found\n", contentType: "text/plain; charset=utf-8") }
                // The collector's names and labels (no `_total` or unit suffixes, as its default
                // reader), so existing dashboards and alerts keep working.
                return .text(.ok, registry.exposition(process: process), contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        } catch {
            throw StartError(message: "\(address) (service.telemetry.metrics): \(error)")
        }
        server.set(s)
        logger.info("own metrics served", metadata: ["endpoint": "\(address.host):\(s.port)", "path": "/metrics"])
    }

    func shutdown() async {
        await server.take()?.shutdown(grace: .milliseconds(100))
    }
}
