import Foundation
import TestSupport
import TraceModel

/// Paths to the shared conformance vectors (beside the repository, as in CI) and test data.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let conformance = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/conformance")
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func read(_ url: URL) throws -> [UInt8] {
        Array(try Data(contentsOf: url))
    }

    /// A conformance input body: the recorded file minus the one newline that was not sent.
    static func input(_ url: URL) throws -> [UInt8] {
        var b = try read(url)
        if b.last == 0x0A { b.removeLast() }
        return b
    }

    /// Parses JSON into a value that compares equal regardless of key order.
    static func canonical(_ bytes: [UInt8]) throws -> NSObject {
        try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as! NSObject
    }

    static var allFields: TraceData { TestData.allFields }
}
