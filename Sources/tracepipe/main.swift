import ArgumentParser
import Dispatch
import Foundation
import Logging
import TracePipe
import TracePipePlatform

/// Options shared by `run` and `validate`.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Config file (repeat to merge several; later files win).", valueName: "file"))
    var config: [String] = []

    @Flag(name: .long, help: "Run the supported part of the config and warn about the rest instead of refusing it.")
    var skipUnsupported = false

    /// The config files to load; with none, `config/default.yaml` next to the binary or in the
    /// working directory, else the built-in copy.
    func load() throws -> ServiceConfig {
        let loader = ConfigLoader(registry: .builtIn, skipUnsupported: skipUnsupported)
        if !config.isEmpty { return try loader.load(files: config) }
        if let file = DefaultConfigLocator.find() { return try loader.load(files: [file]) }
        return try loader.load(yaml: TracePipeInfo.defaultConfigYAML)
    }
}

enum DefaultConfigLocator {
    static func find() -> String? {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            exe.appendingPathComponent("config/default.yaml").path,
            exe.appendingPathComponent("../config/default.yaml").path,
            FileManager.default.currentDirectoryPath + "/config/default.yaml",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

/// The entry point: the command runs on the concurrency pool while the main thread waits for it.
/// Swift's async `main` would park the main thread in `dispatch_main`, which ends it with
/// `pthread_exit`; valgrind, which this project uses to count instructions, cannot run such a
/// process (it aborts with an internal error).
@main
enum TracePipeMain {
    static func main() {
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await TracePipeCommand.main()
            done.signal()
        }
        done.wait()
    }
}

struct TracePipeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracepipe",
        abstract: "A trace pipeline: OTLP in, sampling and scrubbing, export to Tempo, files and the console.",
        version: TracePipeInfo.version,
        subcommands: [Run.self, Validate.self, Components.self],
        defaultSubcommand: Run.self
    )
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the pipelines of a collector-schema config (the default command).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        LogSettings.bootstrap()
        let bootLogger = Logger(label: "tracepipe")
        let config: ServiceConfig
        do {
            config = try options.load()
        } catch {
            bootLogger.error("\(error)")
            throw ExitCode(1)
        }
        LogSettings.apply(config.telemetry.logs)
        let logger = Logger(label: "tracepipe")
        logger.info("starting tracepipe", metadata: ["version": "\(TracePipeInfo.version)"])
        for w in config.warnings { logger.warning("\(w)") }
        do {
            let service = try PipelineService(config: config, logger: logger, process: LinuxProcess())
            try await service.run()
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
    }
}

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a config without starting anything; exit 0 if it is valid, 1 with every problem otherwise.")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Also try each exporter endpoint (DNS, TCP, TLS handshake, one HTTP request) and report what fails and why.")
    var checkEndpoints = false

    func run() async throws {
        let config: ServiceConfig
        do {
            config = try options.load()
            for w in config.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            print("config is valid: \(config.pipelines.count) pipeline(s)")
            // The resolved graph: what will run, in order.
            for p in config.pipelines {
                let processors = p.processors.isEmpty ? "" : " → " + p.processors.map(\.description).joined(separator: " → ")
                print("  \(p.id): [\(p.receivers.map(\.description).joined(separator: ", "))]\(processors) → [\(p.exporters.map(\.description).joined(separator: ", "))]")
            }
            if !config.enabledExtensions.isEmpty {
                print("  extensions: \(config.enabledExtensions.map(\.description).joined(separator: ", "))")
            }
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
        guard checkEndpoints else { return }
        let outcomes = await EndpointCheck.run(config)
        if outcomes.isEmpty { print("endpoints: no network exporters to check") }
        for o in outcomes {
            print("  \(o.exporter) → \(o.endpoint): \(o.detail)")
        }
        if outcomes.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}

struct Components: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the component types tracepipe supports.")

    func run() {
        for kind in [ComponentKind.receiver, .processor, .exporter, .extension] {
            print("\(kind.section):")
            let factories = ComponentRegistry.builtIn.factories.filter { $0.kind == kind }
            if factories.isEmpty { print("  (none yet)") }
            for f in factories {
                let aliases = f.aliases.isEmpty ? "" : " (also: \(f.aliases.joined(separator: ", ")))"
                print("  \(f.type)\(aliases)  \(f.summary)")
            }
        }
    }
}
