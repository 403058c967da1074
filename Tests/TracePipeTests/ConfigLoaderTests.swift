import Foundation
import TracePipe
import TraceModel
import XCTest

final class ConfigLoaderTests: XCTestCase {
    let minimal = """
        receivers:
          otlp:
            protocols:
              http:
        exporters:
          debug:
        service:
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [debug]
        """

    func load(_ yaml: String, env: [String: String] = [:], skip: Bool = false) throws -> ServiceConfig {
        try ConfigLoader(registry: .builtIn, environment: env, skipUnsupported: skip).load(yaml: yaml)
    }

    /// The problems a config has, as "path: message" lines.
    func problems(_ yaml: String, env: [String: String] = [:], skip: Bool = false) -> [String] {
        do {
            _ = try load(yaml, env: env, skip: skip)
            return []
        } catch let e as ConfigErrors {
            return e.errors.map(\.description)
        } catch {
            return ["unexpected error type: \(error)"]
        }
    }

    func assertProblem(_ yaml: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let p = problems(yaml)
        XCTAssertTrue(p.contains { $0.hasPrefix(expected) }, "expected a problem starting with \"\(expected)\", got \(p)", file: file, line: line)
    }

    func testMinimalConfigLoadsWithDefaults() throws {
        let c = try load(minimal)
        XCTAssertEqual(c.pipelines.map(\.id.description), ["traces"])
        let otlp = try XCTUnwrap(c.receivers[ComponentID(type: "otlp")]?.config as? OTLPReceiverConfig)
        XCTAssertEqual(otlp.http?.endpoint, Endpoint(host: "localhost", port: 4318))
        XCTAssertEqual(otlp.http?.tracesURLPath, "/v1/traces")
        XCTAssertEqual(otlp.http?.maxRequestBodySize, 20 * 1024 * 1024)
        let debug = try XCTUnwrap(c.exporters[ComponentID(type: "debug")]?.config as? DebugExporterConfig)
        XCTAssertEqual(debug.verbosity, .basic)
        XCTAssertEqual(debug.samplingInitial, 2)
        XCTAssertEqual(c.telemetry.logs.level, .info)
        XCTAssertEqual(c.telemetry.metrics.address, Endpoint(host: "localhost", port: 8888))
    }

    func testTheDefaultConfigFileMatchesTheBuiltInCopy() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("config/default.yaml"), encoding: .utf8)
        XCTAssertEqual(file, TracePipeInfo.defaultConfigYAML)
        let c = try load(file)
        XCTAssertEqual(c.enabledExtensions, [ComponentID(type: "health_check")])
        XCTAssertEqual(c.pipelines[0].exporters.map(\.description), ["debug", "file"])
    }

    func testErrorsNameTheKeyPath() {
        assertProblem("""
            receivers: {otlp: {protocols: {http: {endpoint: "4318x"}}}}
            exporters: {debug: {}}
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """, #"receivers.otlp.protocols.http.endpoint: expected host:port, got "4318x""#)
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {file/main: {format: json}}
            service: {pipelines: {traces: {receivers: [otlp], exporters: [file/main]}}}
            """, "exporters.file/main.path: required")
        assertProblem("""
            receivers: {otlp: {protocols: {htttp: }}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """, #"receivers.otlp.protocols: must specify at least one protocol (http or grpc) when using the OTLP receiver; found "htttp" (did you mean "http"?)"#)
        assertProblem("""
            receivers: {otlp: {protocols: {http: {endpont: "localhost:1"}}}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """, #"receivers.otlp.protocols.http.endpont: unknown key "endpont" (did you mean "endpoint"?)"#)
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {debug: {verbosity: loud}}
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """, #"exporters.debug.verbosity: verbosity level "loud" is not supported"#)
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {file: {path: /tmp/x, flush_interval: soon}}
            service: {pipelines: {traces: {receivers: [otlp], exporters: [file]}}}
            """, #"exporters.file.flush_interval: expected a duration"#)
        assertProblem("""
            receivers: {otlp: {protocols: {http: {max_request_body_size: lots}}}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """, #"receivers.otlp.protocols.http.max_request_body_size: expected an integer, got "lots""#)
    }

    func testPipelineErrors() {
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp, zipkin/x], exporters: [debug]}}}
            """, #"service.pipelines.traces.receivers[1]: references receiver "zipkin/x" which is not configured"#)
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp]}}}
            """, "service.pipelines.traces.exporters: must have at least one exporter")
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {debug: }
            service: {pipelines: {traces: {exporters: [debug]}}}
            """, "service.pipelines.traces.receivers: must have at least one receiver")
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {debug: }
            service: {pipelines: {}}
            """, "service.pipelines: at least one traces pipeline is required")
        assertProblem("""
            receivers: {otlp: {protocols: {http: }}}
            exporters: {debug: }
            service: {extensions: [health_check], pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """, #"service.extensions[0]: references extension "health_check" which is not configured"#)
        assertProblem("""
            receivers: {"otlp/": {protocols: {http: }}}
            exporters: {debug: }
            service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
            """, "receivers.otlp/:")
        assertProblem("""
            recievers: {}
            """, "recievers: unknown top-level key")
        assertProblem("", "the config is empty")
    }

    func testEveryUnsupportedPieceIsListedAtOnce() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
                    auth: {authenticator: oidc}
                  http:
              prometheus:
                config: {}
            processors:
              k8sattributes: {passthrough: false}
            exporters:
              debug:
              prometheus: {endpoint: "0.0.0.0:8889"}
            extensions:
              zpages: {}
            connectors:
              spanmetrics: {}
            service:
              extensions: [zpages]
              pipelines:
                traces:
                  receivers: [otlp]
                  processors: [k8sattributes]
                  exporters: [debug, spanmetrics]
                metrics:
                  receivers: [prometheus, spanmetrics]
                  exporters: [prometheus]
            """
        let p = problems(yaml)
        for path in ["receivers.otlp.protocols.grpc.auth", "receivers.prometheus", "processors.k8sattributes", "exporters.prometheus",
                     "extensions.zpages", "connectors.spanmetrics", "service.pipelines.metrics"] {
            XCTAssertTrue(p.contains { $0.hasPrefix(path + ":") }, "\(path) missing from \(p)")
        }
        XCTAssertEqual(p.count, 7, "\(p)")

        // With --skip-unsupported the rest runs, with one warning per skipped piece.
        let c = try? load(yaml, skip: true)
        XCTAssertEqual(c?.pipelines.count, 1)
        XCTAssertEqual(c?.pipelines.first?.processors, [])
        XCTAssertEqual(c?.pipelines.first?.exporters.map(\.description), ["debug"])
        XCTAssertEqual(c?.skipped.count, 7)
        XCTAssertEqual(c?.warnings.filter { $0.hasPrefix("skipping unsupported") }.count, 7)
    }

    func testEnvironmentExpansion() throws {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: ${env:HOST}:${PORT}
                    traces_url_path: ${env:TRACES_PATH:-/custom}
            exporters:
              file:
                path: $${env:NOT_EXPANDED}/$HOME
            service:
              pipelines:
                traces:
                  receivers: ${env:RECEIVERS}
                  exporters: [file]
            """
        let c = try load(yaml, env: ["HOST": "127.0.0.1", "PORT": "4999", "RECEIVERS": "[otlp]"])
        let http = try XCTUnwrap((c.receivers[ComponentID(type: "otlp")]?.config as? OTLPReceiverConfig)?.http)
        XCTAssertEqual(http.endpoint, Endpoint(host: "127.0.0.1", port: 4999))
        XCTAssertEqual(http.tracesURLPath, "/custom")
        let file = try XCTUnwrap(c.exporters[ComponentID(type: "file")]?.config as? FileExporterConfig)
        XCTAssertEqual(file.path, "${env:NOT_EXPANDED}/$HOME")
        XCTAssertEqual(c.pipelines[0].receivers.map(\.description), ["otlp"])

        // Empty-but-set stays empty; unset without default warns.
        let c2 = try load(minimal.replacingOccurrences(of: "http:", with: "http: {traces_url_path: \"/a${env:EMPTY}${env:UNSET}\"}"), env: ["EMPTY": ""])
        XCTAssertTrue(c2.warnings.contains { $0.contains("\"UNSET\" is not set") }, "\(c2.warnings)")

        XCTAssertTrue(problems(minimal.replacingOccurrences(of: "debug:", with: "debug: {verbosity: \"${X:-basic}\"}")).contains {
            $0.contains("write \"${env:X:-basic}\"")
        })
        XCTAssertTrue(problems(minimal.replacingOccurrences(of: "debug:", with: "debug: {verbosity: \"${env:1BAD}\"}")).contains {
            $0.hasPrefix("exporters.debug.verbosity: environment variable \"1BAD\" has an invalid name")
        })
    }

    func testSeveralFilesMergeDeeplyAndListsReplace() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tp-merge-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.yaml")
        let b = dir.appendingPathComponent("b.yaml")
        try minimal.write(to: a, atomically: true, encoding: .utf8)
        try """
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:5000
            exporters:
              file:
                path: /tmp/x.jsonl
            service:
              pipelines:
                traces:
                  exporters: [file]
            """.write(to: b, atomically: true, encoding: .utf8)
        let c = try ConfigLoader(registry: .builtIn, environment: [:]).load(files: [a.path, b.path])
        XCTAssertEqual(c.pipelines[0].receivers.map(\.description), ["otlp"], "maps merge: receivers kept from a")
        XCTAssertEqual(c.pipelines[0].exporters.map(\.description), ["file"], "lists replace")
        XCTAssertNotNil(c.exporters[ComponentID(type: "debug")], "debug still defined (unused → warning)")
        XCTAssertTrue(c.warnings.contains { $0.hasPrefix("exporters.debug: defined but used in no pipeline") }, "\(c.warnings)")
        let http = (c.receivers[ComponentID(type: "otlp")]?.config as? OTLPReceiverConfig)?.http
        XCTAssertEqual(http?.endpoint.port, 5000)
    }

    func testComponentAliases() throws {
        let c = try load("""
            receivers: {otlp: {protocols: {http: }}}
            exporters:
              logging: {loglevel: debug}
            service: {pipelines: {traces: {receivers: [otlp], exporters: [logging]}}}
            """)
        let debug = try XCTUnwrap(c.exporters[ComponentID(type: "logging")]?.config as? DebugExporterConfig)
        XCTAssertEqual(debug.verbosity, .detailed)
        XCTAssertTrue(c.warnings.contains { $0.contains("deprecated") })
    }

    func testDurations() {
        XCTAssertEqual(ConfigDuration.parse("200ms"), 200_000_000)
        XCTAssertEqual(ConfigDuration.parse("5s"), 5_000_000_000)
        XCTAssertEqual(ConfigDuration.parse("1m30s"), 90_000_000_000)
        XCTAssertEqual(ConfigDuration.parse("1.5h"), 5_400_000_000_000)
        XCTAssertEqual(ConfigDuration.parse("10us"), 10_000)
        XCTAssertEqual(ConfigDuration.parse("0"), 0)
        XCTAssertEqual(ConfigDuration.parse("1000"), 1000, "a bare integer is nanoseconds")
        XCTAssertNil(ConfigDuration.parse("5 seconds"))
        XCTAssertNil(ConfigDuration.parse("s"))
        XCTAssertEqual(ConfigDuration.format(62_345_000_000), "1m2.345s")
        XCTAssertEqual(ConfigDuration.format(200_000_000), "200ms")
    }

    func testTelemetryForms() throws {
        let readers = try load(minimal + """

              telemetry:
                logs: {level: DEBUG, encoding: json}
                metrics:
                  level: detailed
                  readers:
                    - pull:
                        exporter:
                          prometheus: {host: 127.0.0.1, port: 18888, without_type_suffix: true}
            """)
        XCTAssertEqual(readers.telemetry.metrics.address, Endpoint(host: "127.0.0.1", port: 18888))
        XCTAssertEqual(readers.telemetry.metrics.level, .detailed)
        XCTAssertEqual(readers.telemetry.logs.level, .debug)
        XCTAssertEqual(readers.telemetry.logs.encoding, .json)
        let address = try load(minimal + """

              telemetry:
                metrics: {address: "0.0.0.0:9999"}
            """)
        XCTAssertEqual(address.telemetry.metrics.address, Endpoint(host: "0.0.0.0", port: 9999))
    }

    func testWeaklyTypedScalars() throws {
        let c = try load("""
            receivers: {otlp: {protocols: {http: {max_request_body_size: "1024"}}}}
            exporters: {file: {path: /tmp/a, append: "true", rotation: {max_megabytes: "5"}}}
            service: {pipelines: {traces: {receivers: [otlp], exporters: [file]}}}
            """)
        XCTAssertEqual((c.receivers[ComponentID(type: "otlp")]?.config as? OTLPReceiverConfig)?.http?.maxRequestBodySize, 1024)
        let f = c.exporters[ComponentID(type: "file")]?.config as? FileExporterConfig
        XCTAssertEqual(f?.append, true)
        XCTAssertEqual(f?.rotation?.maxMegabytes, 5)
        XCTAssertEqual(f?.rotation?.maxBackups, 100)
    }

    /// Plain YAML scalars become attribute values of the type YAML's core schema gives them.
    func testPlainScalarsAsAttributeValues() {
        let cases: [(String, AnyValue)] = [
            ("42", .int(42)), ("-7", .int(-7)), ("+3", .int(3)), ("0x1F", .int(31)), ("1.5", .double(1.5)), (".5", .double(0.5)),
            ("-2.", .double(-2)), ("1e3", .double(1000)), ("6.02E+23", .double(6.02e23)), ("true", .bool(true)),
            ("1.2.3", .string("1.2.3")), ("0x", .string("0x")), ("e5", .string("e5")), ("1e", .string("1e")), ("-", .string("-")),
            ("12abc", .string("12abc")), ("", .string("")), ("99999999999999999999", .double(1e20)),
        ]
        for (text, want) in cases {
            XCTAssertEqual(ConfigNode.scalar(text, quoted: false).attributeValue, want, text)
        }
        XCTAssertEqual(ConfigNode.scalar("42", quoted: true).attributeValue, .string("42"))
    }

    func testEndpoints() {
        XCTAssertEqual(Endpoint.parse("0.0.0.0:4318"), Endpoint(host: "0.0.0.0", port: 4318))
        XCTAssertEqual(Endpoint.parse(":4318"), Endpoint(host: "0.0.0.0", port: 4318))
        XCTAssertEqual(Endpoint.parse("[::1]:4318"), Endpoint(host: "::1", port: 4318))
        XCTAssertNil(Endpoint.parse("4318"))
        XCTAssertNil(Endpoint.parse("localhost:70000"))
        XCTAssertNil(Endpoint.parse("localhost:"))
        XCTAssertNil(Endpoint.parse("http://localhost:4318"))
    }
}

final class ShippedPipelinesTests: XCTestCase {
    /// Every file in pipelines/ is a valid config as shipped.
    func testShippedPipelinesAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(files.isEmpty)
        for f in files {
            XCTAssertNoThrow(try ConfigLoader(registry: .builtIn, environment: [:]).load(files: [dir.appendingPathComponent(f).path]), f)
        }
    }
}
