import Foundation
import TracePipe
import XCTest

/// The real-world collector configs in ../shared/compat: whatever tracepipe does not support
/// must be reported as unsupported, never as a bogus "unknown key" in a component it has.
final class CompatConfigTests: XCTestCase {
    /// Keys in the corpus that no collector release we know of has (so the collector's strict
    /// decoding rejects them too): a translator's test fixture uses `blocked_value_patterns`.
    static let knownInvalid: Set<String> = ["processors.redaction/redaction_processor_1.blocked_value_patterns"]

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
                for err in e.errors where !Self.knownInvalid.contains(err.path) {
                    XCTAssertFalse(err.message.contains("unknown key"), "\(f): \(err)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(runnable, 15, "configs that run with --skip-unsupported")
    }
}
