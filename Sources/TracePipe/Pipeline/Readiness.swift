import FoundationEssentials
import Logging

/// The last service to start and the first to stop: says ready once everything before it has
/// started, and "stopping" (health 503) before anything else stops.
final class Readiness: Component {
    let status: ServiceStatus
    let logger: Logger
    let pipelines: [String]

    init(status: ServiceStatus, logger: Logger, pipelines: [String]) {
        self.status = status
        self.logger = logger
        self.pipelines = pipelines
    }

    func start(_ host: ComponentHost) async throws {
        status.set(.ready(since: Date()))
        logger.info("everything is ready; begin running and processing data", metadata: ["pipelines": "\(pipelines.joined(separator: ","))"])
    }

    func shutdown() async {
        status.set(.stopping)
        logger.info("shutting down")
    }
}
