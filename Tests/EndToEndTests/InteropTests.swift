import Foundation
import XCTest

/// The official OpenTelemetry Python SDK's exporters (OTLP/gRPC, OTLP/HTTP protobuf and JSON,
/// Zipkin JSON) send through this build of tracepipe, whose otlp exporter delivers to a real
/// grpcio OTLP server: scripts/interop/run, with its Python environments from PyPI.
final class InteropTests: XCTestCase {
    func testOfficialPythonClientsAndAGRPCIOServer() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("scripts/interop/run").path]
        p.currentDirectoryURL = root
        var env = ProcessInfo.processInfo.environment
        env["TRACEPIPE_BIN"] = TracePipeProcess.binary.path
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "scripts/interop/run failed (its Python packages come from PyPI):\n\(text)")
        XCTAssertTrue(text.contains("interop: 200 passed, 0 failed"), text)
        XCTAssertTrue(text.contains("200/200 spans arrived once"), text)
    }
}
