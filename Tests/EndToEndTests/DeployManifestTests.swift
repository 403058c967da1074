import Foundation
import XCTest

/// deploy/: the Kubernetes manifests against the Kubernetes schemas (kubernetes-validate from
/// PyPI, strict), and every tracepipe config in them and in the Helm values with the real
/// binary's `validate --config=<file>` (scripts/check-deploy.py does both).
final class DeployManifestTests: XCTestCase {
    /// A virtualenv with kubernetes-validate, made once per machine in the temp directory.
    static func python() throws -> String {
        let venv = FileManager.default.temporaryDirectory.appendingPathComponent("tracepipe-test-kubernetes-validate")
        let python = venv.appendingPathComponent("bin/python").path
        let tool = venv.appendingPathComponent("bin/kubernetes-validate").path
        if FileManager.default.isExecutableFile(atPath: tool) { return python }
        for (what, args) in [("python3 -m venv", ["python3", "-m", "venv", venv.path]),
                             ("pip install kubernetes-validate", [python, "-m", "pip", "install", "-q", "kubernetes-validate"])] {
            let (status, output) = try run(args)
            guard status == 0 else { throw XCTSkip("cannot set up kubernetes-validate (\(what) failed): \(output.suffix(500))") }
        }
        return python
    }

    static func run(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testManifestsAndTheirConfigsValidate() throws {
        let python = try Self.python()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let (status, output) = try Self.run([python, root.appendingPathComponent("scripts/check-deploy.py").path, TracePipeProcess.binary.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("all deploy checks passed"), output)
        // Each file was looked at: the three ConfigMaps and both Helm values files.
        XCTAssertEqual(output.split(separator: "\n").filter { $0.hasPrefix("ok   tracepipe validate") }.count, 5, output)
    }
}
