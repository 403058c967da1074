import Foundation
import TestSupport
import XCTest

/// The real `tracepipe` binary, started by a test and always stopped by it.
final class TracePipeProcess {
    let process = Process()
    let stderrPipe = Pipe()
    let stdoutPipe = Pipe()
    private let output = OutputBuffer()

    /// The built binary: beside the test bundle (`.build/<config>/`), or $TRACEPIPE_BIN.
    static var binary: URL {
        if let p = ProcessInfo.processInfo.environment["TRACEPIPE_BIN"] { return URL(fileURLWithPath: p) }
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL,
            Bundle.main.bundleURL.deletingLastPathComponent(),
        ].map { $0.appendingPathComponent("tracepipe") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/tracepipe")
    }

    /// Starts the binary. Unless `ownMetrics`, a config overlay turns tracepipe's own metrics
    /// endpoint off, so tests never compete for its fixed default port 8888.
    init(arguments: [String], workingDirectory: URL? = nil, environment: [String: String] = [:], ownMetrics: Bool = false) throws {
        process.executableURL = Self.binary
        var args = arguments
        if !ownMetrics && args.first != "validate" && args.contains("--config") {
            args += ["--config", Self.noMetricsOverlay]
        }
        process.arguments = args
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardError = stderrPipe
        process.standardOutput = stdoutPipe
        let out = output
        stderrPipe.fileHandleForReading.readabilityHandler = { h in out.append(h.availableData) }
        stdoutPipe.fileHandleForReading.readabilityHandler = { h in out.append(h.availableData) }
        try process.run()
    }

    static let noMetricsOverlay: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tp-no-metrics-\(getpid()).yaml").path
        try? "service: {telemetry: {metrics: {level: none}}}\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var log: String { output.text }

    /// Polls until `port` answers `path` with 200, or fails the test.
    func waitHealthy(port: Int, path: String = "/", timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { throw TestHTTPClient.Failure(description: "tracepipe exited early:\n\(log)") }
            if let r = try? TestHTTPClient.request(port: port, path: path), r.status == 200 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestHTTPClient.Failure(description: "tracepipe did not become healthy on \(port):\n\(log)")
    }

    /// Sends SIGTERM and returns the exit code.
    func terminate(timeout: TimeInterval = 20) -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        return waitExit(timeout: timeout)
    }

    func waitExit(timeout: TimeInterval = 20) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return -1
        }
        Thread.sleep(forTimeInterval: 0.05)  // let the pipes drain
        return process.terminationStatus
    }

    /// Runs the binary to completion (validate, components, --version).
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = try TracePipeProcess(arguments: arguments)
        let status = p.waitExit(timeout: 30)
        return (status, p.log)
    }
}

final class OutputBuffer: @unchecked Sendable {
    // Guarded by `lock`; written from the pipes' reader threads, read by the test.
    private var data = Data()
    private let lock = NSLock()

    func append(_ d: Data) {
        lock.lock()
        data.append(d)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
