import Foundation
import TracePipe

/// Compressed test bodies.
public enum TestGzip {
    /// A small gzip body that inflates to `inflatedBytes` of spaces.
    public static func bomb(inflatedBytes: Int) throws -> [UInt8] {
        // Deflate does not reach its best ratio in one call on a huge input, so compress a
        // moderate block and concatenate gzip members (a valid stream that readers must inflate whole).
        let block = [UInt8](repeating: 0x20, count: 16 << 20)
        let d = try Deflater(format: .gzip, level: 9)
        let member = block.withUnsafeBytes { d.compress($0) }
        var out: [UInt8] = []
        for _ in 0..<max(1, inflatedBytes / block.count) { out += member }
        return out
    }
}
