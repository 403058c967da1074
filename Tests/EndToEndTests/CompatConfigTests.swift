import Foundation
import XCTest

/// `tracepipe validate` over every real-world collector config in ../shared/compat/configs, with
/// the environment variables each references set to harmless values. A config that uses only
/// what tracepipe has validates unchanged; any other fails with one message listing every
/// unsupported piece (never "unknown key" or a crash) and validates with --skip-unsupported.
final class CompatConfigTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/compat/configs")

    /// Files the collector itself would refuse as they are, and what tracepipe says about them.
    static let invalidAsIs: [String: (why: String, expect: String)] = [
        "CiceroDeveloper01__observability-platform__helm-templates-otel-collector-deployment-configmap.yaml":
            ("a Helm template: `{{ … }}` is rendered before a collector sees it", "exporters.otlp/tempo.endpoint: expected host:port"),
        "honeycombio__hpsf__pkg-translator-testdata-collector-config-redactionprocessor-all.yaml":
            ("a translator fixture with a key no collector release has", "unknown key \"blocked_value_patterns\""),
        "open-telemetry__opentelemetry-demo__src-otel-collector-otelcol-config-observability.yaml":
            ("an overlay the demo merges onto otelcol-config.yaml (tested merged below)", "references exporter \"debug\" which is not configured"),
        "open-telemetry__opentelemetry-helm-charts__charts-collector-examples-kubernetesAttributes-rendered-configmap.yaml":
            ("its traces pipeline names a `resource` processor that is not defined", "references processor \"resource\" which is not configured"),
        "open-telemetry__opentelemetry-operator__internal-otelconfig-testdata-issue-3452.yaml":
            ("an operator test fixture: a pipeline without exporters", "must have at least one exporter"),
        "open-telemetry__opentelemetry-operator__internal-otelconfig-testdata-otelcol-demo.yaml":
            ("memory_limiter without check_interval, which the collector refuses too", "checkInterval must be greater than zero"),
    ]

    /// A harmless value for a variable, by what its name says it holds.
    static func harmlessValue(_ name: String) -> String {
        let u = name.uppercased()
        if u.contains("PORT") { return "4317" }
        if u.contains("URL") || u.contains("ENDPOINT") { return "http://localhost:4318" }
        if u.split(separator: "_").contains("IP") || u.contains("HOST") || u.contains("ADDR") || u.contains("INTERFACE") { return "127.0.0.1" }
        if u.contains("MIB") { return "512" }
        if u.contains("LEVEL") { return "info" }
        return "placeholder"
    }

    static func environment(for file: URL) throws -> [String: String] {
        let text = try String(contentsOf: file, encoding: .utf8)
        let re = try NSRegularExpression(pattern: #"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}"#)
        var env: [String: String] = [:]
        for m in re.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let name = String(text[Range(m.range(at: 1), in: text)!])
            env[name] = harmlessValue(name)
        }
        return env
    }

    func validate(_ files: [URL], skip: Bool = false, env: [String: String]) throws -> (status: Int32, output: String) {
        var args = ["validate"]
        if skip { args.append("--skip-unsupported") }
        for f in files { args += ["--config", f.path] }
        let p = try TracePipeProcess(arguments: args, environment: env)
        let status = p.waitExit(timeout: 30)
        return (status, p.log)
    }

    func testEveryRealWorldConfig() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 54)
        var unchanged = 0, withSkip = 0, tracesOnlyElsewhere = 0
        for name in files {
            let file = Self.dir.appendingPathComponent(name)
            let env = try Self.environment(for: file)
            let plain = try validate([file], env: env)
            XCTAssertTrue(plain.status == 0 || plain.status == 1, "\(name): exit \(plain.status) (crash?)\n\(plain.output)")
            if let known = Self.invalidAsIs[name] {
                XCTAssertEqual(plain.status, 1, "\(name) (\(known.why))")
                XCTAssertTrue(plain.output.contains(known.expect), "\(name) (\(known.why)):\n\(plain.output)")
                continue
            }
            if plain.status == 0 {
                unchanged += 1
                XCTAssertTrue(plain.output.contains("config is valid"), "\(name):\n\(plain.output)")
                continue
            }
            // Every problem is an unsupported piece, named by its path.
            XCTAssertFalse(plain.output.contains("unknown key"), "\(name):\n\(plain.output)")
            XCTAssertTrue(plain.output.contains("run with --skip-unsupported"), "\(name): only unsupported pieces may fail a config:\n\(plain.output)")
            let skipped = try validate([file], skip: true, env: env)
            if skipped.status == 0 {
                withSkip += 1
            } else {
                // Configs with no traces pipeline at all (metrics or logs collectors).
                XCTAssertTrue(skipped.output.contains("no traces pipeline is left to run") || skipped.output.contains("at least one traces pipeline is required"),
                              "\(name) with --skip-unsupported:\n\(skipped.output)")
                tracesOnlyElsewhere += 1
            }
        }
        // The overlay, as the demo uses it: merged onto its base config.
        let base = Self.dir.appendingPathComponent("open-telemetry__opentelemetry-demo__src-otel-collector-otelcol-config.yaml")
        let overlay = Self.dir.appendingPathComponent("open-telemetry__opentelemetry-demo__src-otel-collector-otelcol-config-observability.yaml")
        let merged = try validate([base, overlay], skip: true, env: try Self.environment(for: base).merging(try Self.environment(for: overlay)) { a, _ in a })
        XCTAssertEqual(merged.status, 0, merged.output)
        print("compat: \(unchanged) configs validate unchanged, \(withSkip) more with --skip-unsupported, \(tracesOnlyElsewhere) have no traces pipeline, \(Self.invalidAsIs.count) are invalid as they are")
        XCTAssertGreaterThanOrEqual(unchanged, 8)
        XCTAssertGreaterThanOrEqual(unchanged + withSkip, 41)
    }
}
