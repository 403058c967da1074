import TracePipe
import XCTest

/// YAML merge keys (`<<: *anchor`), which collector configs use to share settings between
/// components and which go-yaml (so the collector) resolves.
final class YAMLMergeKeyTests: XCTestCase {
    private func parse(_ yaml: String) throws -> ConfigNode { try ConfigNode.parse(yaml: yaml, source: "test.yaml") }

    func testMergesTheAnchorsKeysAndOwnKeysWin() throws {
        let root = try parse("""
            processors:
              batch: &defaults
                send_batch_size: 100
                timeout: 1s
              batch/slow:
                timeout: 5s
                <<: *defaults
              batch/fast:
                <<: *defaults
                timeout: 200ms
            """)
        let slow = root["processors"]?["batch/slow"]
        XCTAssertEqual(slow?["timeout"], .scalar("5s"), "a key set before << wins")
        XCTAssertEqual(slow?["send_batch_size"], .scalar("100"))
        XCTAssertEqual(root["processors"]?["batch/fast"]?["timeout"], .scalar("200ms"), "a key set after << wins")
        XCTAssertNil(slow?["<<"])
    }

    func testAListOfMappingsTheFirstWinning() throws {
        let root = try parse("""
            a: &a {x: 1, y: 1}
            b: &b {y: 2, z: 2}
            c:
              <<: [*a, *b]
              w: 0
            """)
        XCTAssertEqual(root["c"], .mapping([("x", .scalar("1")), ("y", .scalar("1")), ("z", .scalar("2")), ("w", .scalar("0"))]))
    }

    /// Only a plain `<<` merges: a quoted one is an ordinary key.
    func testAQuotedKeyIsNotAMerge() throws {
        let root = try parse("""
            a: &a {x: 1}
            c: {"<<": *a}
            """)
        XCTAssertEqual(root["c"]?["<<"], .mapping([("x", .scalar("1"))]))
    }

    func testMergingAScalarIsAClearError() {
        XCTAssertThrowsError(try parse("a: &a 1\nc:\n  <<: *a\n")) { e in
            XCTAssertTrue("\(e)".contains("the merge key << needs a mapping or a list of mappings"), "\(e)")
            XCTAssertTrue("\(e)".contains("test.yaml"), "\(e)")
        }
    }

    func testACollectorConfigWithMergeKeysLoads() throws {
        let config = try ConfigLoader(registry: .builtIn, environment: [:]).load(yaml: """
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:4318
                    max_request_body_size: 1048576
            processors:
              batch: &batch
                send_batch_size: 512
              batch/big:
                <<: *batch
                send_batch_max_size: 2048
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  processors: [batch/big]
                  exporters: [debug]
            """)
        XCTAssertEqual(config.pipelines.count, 1)
    }
}
