import Foundation
import TracePipe
import XCTest

/// The real-world collector configs in ../shared/compat: whatever tracepipe does not support
/// must be reported as unsupported, never as a bogus "unknown key" in a component it has.
final class CompatConfigTests: XCTestCase {
    func testRealWorldConfigsOnlyFailOnUnsupportedPieces() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.deletingLastPathComponent().appendingPathComponent("shared/compat/configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 50)
        var runnable = 0
        for f in files {
            let loader = ConfigLoader(registry: .builtIn, environment: [:], skipUnsupported: true)
            do {
                _ = try loader.load(files: [dir.appendingPathComponent(f).path])
                runnable += 1
            } catch let e as ConfigErrors {
                for err in e.errors {
                    XCTAssertFalse(err.message.contains("unknown key"), "\(f): \(err)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(runnable, 15, "configs that run with --skip-unsupported")
    }
}
