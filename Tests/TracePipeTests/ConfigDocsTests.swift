import Foundation
import XCTest

/// docs/configuration.md names every config key tracepipe reads: each case of a `CodingKey` enum
/// in the sources must appear in the doc in backticks (alone or inside a dotted/`{…}` path).
final class ConfigDocsTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every key name declared in a `…: String, CodingKey` enum, with the file it is declared in.
    static func declaredKeys() throws -> [(key: String, file: String)] {
        let sources = root.appendingPathComponent("Sources/TracePipe")
        guard let files = FileManager.default.enumerator(atPath: sources.path) else { return [] }
        let enumPattern = try NSRegularExpression(pattern: #"enum \w+: String, CodingKey \{([^}]*)\}"#)
        var out: [(String, String)] = []
        for case let path as String in files where path.hasSuffix(".swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(path), encoding: .utf8)
            for m in enumPattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let body = String(text[Range(m.range(at: 1), in: text)!])
                for line in body.split(separator: "\n") {
                    let code = line.split(separator: "//").first.map(String.init) ?? ""
                    guard let caseRange = code.range(of: "case ") else { continue }
                    for item in code[caseRange.upperBound...].split(separator: ",") {
                        let parts = item.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
                        guard let name = parts.first, !name.isEmpty else { continue }
                        let raw = parts.count > 1 ? parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\" ")) : name
                        out.append((raw.trimmingCharacters(in: CharacterSet(charactersIn: "`")), path))
                    }
                }
            }
        }
        return out
    }

    /// The words inside backticks in the doc, split on the separators of key paths.
    static func documentedWords() throws -> Set<String> {
        let doc = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var words = Set<String>()
        for (i, chunk) in doc.split(separator: "`", omittingEmptySubsequences: false).enumerated() where i % 2 == 1 {
            for w in chunk.split(whereSeparator: { ".{},/ :()[]=".contains($0) }) { words.insert(String(w)) }
        }
        return words
    }

    func testEveryConfigKeyIsDocumented() throws {
        let keys = try Self.declaredKeys()
        XCTAssertGreaterThan(keys.count, 150, "the key scan found the config structs")
        let words = try Self.documentedWords()
        let missing = keys.filter { !words.contains($0.key) }
        XCTAssertTrue(missing.isEmpty, "keys not in docs/configuration.md:\n" + missing.map { "\($0.key) (\($0.file))" }.sorted().joined(separator: "\n"))
    }
}
