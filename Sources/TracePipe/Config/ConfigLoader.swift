import Foundation

/// Turns collector-schema YAML files into a validated `ServiceConfig`: merge, expand variables,
/// decode every component strictly, check the pipelines, and report every problem at once.
public struct ConfigLoader {
    public var registry: ComponentRegistry
    public var environment: [String: String]
    /// Run the supported part of a config and warn about the rest, instead of refusing it.
    public var skipUnsupported: Bool

    public init(registry: ComponentRegistry, environment: [String: String] = ProcessInfo.processInfo.environment, skipUnsupported: Bool = false) {
        self.registry = registry
        self.environment = environment
        self.skipUnsupported = skipUnsupported
    }

    /// Reads, merges (later files win; maps merge deeply, lists replace) and loads config files.
    public func load(files: [String]) throws -> ServiceConfig {
        var merged = ConfigNode.null
        for file in files {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigErrors([ConfigError(path: "", "cannot read config file \"\(file)\": \((error as NSError).localizedDescription)")])
            }
            do {
                merged = merged.merged(with: try ConfigNode.parse(yaml: text, source: file))
            } catch let e as YAMLSyntaxError {
                throw ConfigErrors([ConfigError(path: "", e.description)])
            }
        }
        return try load(merged)
    }

    public func load(yaml: String) throws -> ServiceConfig {
        do {
            return try load(try ConfigNode.parse(yaml: yaml, source: "config"))
        } catch let e as YAMLSyntaxError {
            throw ConfigErrors([ConfigError(path: "", e.description)])
        }
    }

    public func load(_ root: ConfigNode) throws -> ServiceConfig {
        var expansion = EnvironmentExpansion(environment: environment)
        let node: ConfigNode
        do {
            node = try expansion.expand(root)
        } catch {
            throw ConfigErrors([error])
        }
        var state = LoadState()
        state.config.warnings = expansion.warnings
        state.run(node, registry: registry)
        if skipUnsupported {
            state.config.skipped = state.unsupported
            state.config.warnings += state.unsupported.map { "skipping unsupported \($0)" }
        } else {
            state.errors = state.unsupported + state.errors
        }
        state.checkPipelines(skipUnsupported: skipUnsupported)
        if !state.errors.isEmpty {
            var e = ConfigErrors(state.errors)
            if !state.unsupported.isEmpty && !skipUnsupported {
                e.hint = "run with --skip-unsupported to start without the unsupported parts"
            }
            throw e
        }
        return state.config
    }
}

/// The mutable state of one load: what was decoded, what failed, what is unsupported.
private struct LoadState {
    var config = ServiceConfig()
    var errors: [ConfigError] = []
    var unsupported: [ConfigError] = []
    /// Ids of components left out as unsupported, per kind, so pipelines can drop references to them.
    var unsupportedIDs: [ComponentKind: Set<ComponentID>] = [:]
    /// Ids whose config had errors: defined, so references to them are not reported again.
    var failedIDs: [ComponentKind: Set<ComponentID>] = [:]
    var connectors: Set<ComponentID> = []
    var rawPipelines: [(id: ComponentID, path: String, node: ConfigNode)] = []

    mutating func run(_ root: ConfigNode, registry: ComponentRegistry) {
        guard case .mapping(let top) = root else {
            errors.append(ConfigError(path: "", root.isNull ? "the config is empty: it needs receivers, exporters and service.pipelines" : "expected a mapping at the top level, got \(root.kindDescription)"))
            return
        }
        let allowed = ["receivers", "processors", "exporters", "connectors", "extensions", "service"]
        for (k, _) in top where !allowed.contains(k) {
            errors.append(ConfigError(path: k, "unknown top-level key (expected one of \(allowed.joined(separator: ", ")))"))
        }
        for kind in [ComponentKind.receiver, .processor, .exporter, .extension] {
            decodeSection(kind, root[kind.section], registry: registry)
        }
        if let conns = root["connectors"]?.mappingPairs {
            for (k, _) in conns {
                guard case .success(let id) = ComponentID.parse(k) else { continue }
                connectors.insert(id)
                unsupported.append(ConfigError(path: "connectors.\(k)", "connectors are not supported by tracepipe"))
            }
        }
        decodeService(root["service"])
    }

    mutating func decodeSection(_ kind: ComponentKind, _ node: ConfigNode?, registry: ComponentRegistry) {
        guard let node, !node.isNull else { return }
        guard case .mapping(let pairs) = node else {
            errors.append(ConfigError(path: kind.section, "expected a mapping of component ids, got \(node.kindDescription)"))
            return
        }
        for (key, value) in pairs {
            let path = "\(kind.section).\(key)"
            let id: ComponentID
            switch ComponentID.parse(key) {
            case .success(let i): id = i
            case .failure(let e):
                errors.append(ConfigError(path: path, e.message))
                continue
            }
            var body = value
            guard let factory = registry.factory(kind, id.type) else {
                let known = registry.types(kind)
                unsupported.append(ConfigError(path: path, "component type \"\(id.type)\" is not supported by tracepipe (supported \(kind.section): \(known.isEmpty ? "none" : known.joined(separator: ", ")))"))
                unsupportedIDs[kind, default: []].insert(id)
                continue
            }
            if id.type == "logging" {
                config.warnings.append("\(path): the logging exporter is deprecated; it runs as the debug exporter")
                body = LoggingAlias.translate(body)
            }
            let diagnostics = ConfigDiagnostics()
            let decoder = ConfigNodeDecoder(node: body, codingPath: [ConfigKey(kind.section), ConfigKey(key)], diagnostics: diagnostics)
            do {
                let decoded = try factory.decodeConfig(decoder)
                let problems = diagnostics.unknownKeyErrors()
                errors += problems
                if problems.isEmpty {
                    set(kind, id, ConfiguredComponent(id: id, factory: factory, config: decoded))
                } else {
                    failedIDs[kind, default: []].insert(id)
                }
            } catch {
                // Keys after the failing one were never read, so unknown-key checks would mislead here.
                switch error {
                case let e as ConfigError: errors.append(e)
                case let e as DecodingError: errors.append(ConfigNodeDecoder.convert(e, fallbackPath: path))
                default: errors.append(ConfigError(path: path, "\(error)"))
                }
                failedIDs[kind, default: []].insert(id)
            }
            unsupported += diagnostics.unsupported
            config.warnings += diagnostics.warnings
        }
    }

    mutating func set(_ kind: ComponentKind, _ id: ComponentID, _ c: ConfiguredComponent) {
        switch kind {
        case .receiver: config.receivers[id] = c
        case .processor: config.processors[id] = c
        case .exporter: config.exporters[id] = c
        case .extension: config.extensions[id] = c
        case .connector: break
        }
    }

    /// Whether `id` was defined (supported or not) in `kind`'s section; unsupported ones are
    /// remembered so that references to them are not reported as undefined too.
    func isDefined(_ kind: ComponentKind, _ id: ComponentID) -> (supported: Bool, defined: Bool) {
        if config.components(kind)[id] != nil { return (true, true) }
        if failedIDs[kind]?.contains(id) == true { return (false, true) }
        if unsupportedIDs[kind]?.contains(id) == true { return (false, true) }
        if (kind == .receiver || kind == .exporter) && connectors.contains(id) { return (false, true) }
        return (false, false)
    }

    mutating func decodeService(_ node: ConfigNode?) {
        guard let node, case .mapping(let pairs) = node else {
            errors.append(ConfigError(path: "service", node == nil || node!.isNull ? "required: the service section with at least one traces pipeline" : "expected a mapping"))
            return
        }
        for (k, v) in pairs {
            switch k {
            case "extensions":
                decodeServiceExtensions(v)
            case "pipelines":
                guard case .mapping(let ps) = v else {
                    errors.append(ConfigError(path: "service.pipelines", "expected a mapping of pipeline ids, got \(v.kindDescription)"))
                    continue
                }
                for (pk, pv) in ps {
                    let path = "service.pipelines.\(pk)"
                    switch ComponentID.parse(pk) {
                    case .failure(let e):
                        errors.append(ConfigError(path: path, e.message))
                    case .success(let id):
                        if id.type == "traces" {
                            rawPipelines.append((id, path, pv))
                        } else if ["metrics", "logs", "profiles"].contains(id.type) {
                            unsupported.append(ConfigError(path: path, "\(id.type) pipelines are not supported: tracepipe handles traces only"))
                        } else {
                            errors.append(ConfigError(path: path, "unknown signal \"\(id.type)\" (a pipeline id is traces or traces/<name>)"))
                        }
                    }
                }
            case "telemetry":
                let diagnostics = ConfigDiagnostics()
                let decoder = ConfigNodeDecoder(node: v, codingPath: [ConfigKey("service"), ConfigKey("telemetry")], diagnostics: diagnostics)
                do {
                    config.telemetry = try TelemetryConfig(from: decoder)
                    errors += diagnostics.unknownKeyErrors()
                } catch let e as ConfigError {
                    errors.append(e)
                } catch {
                    errors.append(ConfigError(path: "service.telemetry", "\(error)"))
                }
                unsupported += diagnostics.unsupported
                config.warnings += diagnostics.warnings
            default:
                errors.append(ConfigError(path: "service.\(k)", "unknown key (expected extensions, pipelines or telemetry)"))
            }
        }
    }

    mutating func decodeServiceExtensions(_ v: ConfigNode) {
        guard case .sequence(let items) = v else {
            if !v.isNull { errors.append(ConfigError(path: "service.extensions", "expected a list of extension ids, got \(v.kindDescription)")) }
            return
        }
        for (i, item) in items.enumerated() {
            let path = "service.extensions[\(i)]"
            guard case .scalar(let s, _) = item, case .success(let id) = ComponentID.parse(s) else {
                errors.append(ConfigError(path: path, "expected an extension id, got \(item.kindDescription)"))
                continue
            }
            let d = isDefined(.extension, id)
            if d.supported {
                config.enabledExtensions.append(id)
            } else if !d.defined {
                errors.append(ConfigError(path: path, "references extension \"\(id)\" which is not configured"))
            }
        }
    }

    /// Checks every traces pipeline and resolves its references.
    mutating func checkPipelines(skipUnsupported: Bool) {
        var used: [ComponentKind: Set<ComponentID>] = [:]
        for (id, path, node) in rawPipelines {
            guard case .mapping(let pairs) = node else {
                errors.append(ConfigError(path: path, "expected a mapping with receivers, processors and exporters, got \(node.kindDescription)"))
                continue
            }
            var spec = PipelineSpec(id: id, receivers: [], processors: [], exporters: [])
            var droppedReceivers = false
            var droppedExporters = false
            var badReference: Set<String> = []
            for (k, v) in pairs {
                let kind: ComponentKind
                switch k {
                case "receivers": kind = .receiver
                case "processors": kind = .processor
                case "exporters": kind = .exporter
                default:
                    errors.append(ConfigError(path: "\(path).\(k)", "unknown key (expected receivers, processors or exporters)"))
                    continue
                }
                let items: [ConfigNode]
                switch v {
                case .sequence(let s): items = s
                case .null: items = []
                default:
                    errors.append(ConfigError(path: "\(path).\(k)", "expected a list of component ids, got \(v.kindDescription)"))
                    continue
                }
                var ids: [ComponentID] = []
                for (i, item) in items.enumerated() {
                    let ipath = "\(path).\(k)[\(i)]"
                    guard case .scalar(let s, _) = item, case .success(let cid) = ComponentID.parse(s) else {
                        errors.append(ConfigError(path: ipath, "expected a component id, got \(item.kindDescription)"))
                        continue
                    }
                    let d = isDefined(kind, cid)
                    if !d.defined {
                        errors.append(ConfigError(path: ipath, "references \(kind.rawValue) \"\(cid)\" which is not configured in \(kind.section)"))
                        badReference.insert(k)
                        continue
                    }
                    if d.defined && !d.supported && failedIDs[kind]?.contains(cid) == true {
                        badReference.insert(k)
                        continue
                    }
                    if !d.supported {
                        if kind == .receiver { droppedReceivers = true }
                        if kind == .exporter { droppedExporters = true }
                        continue
                    }
                    if ids.contains(cid) {
                        if kind == .processor {
                            errors.append(ConfigError(path: ipath, "references processor \"\(cid)\" multiple times"))
                        }
                        continue
                    }
                    ids.append(cid)
                    used[kind, default: []].insert(cid)
                }
                switch kind {
                case .receiver: spec.receivers = ids
                case .processor: spec.processors = ids
                default: spec.exporters = ids
                }
            }
            let skipped = skipUnsupported && (droppedReceivers || droppedExporters)
            if spec.receivers.isEmpty {
                if skipped && droppedReceivers {
                    config.warnings.append("\(path): skipped: none of its receivers is supported")
                    continue
                }
                if !droppedReceivers && !badReference.contains("receivers") { errors.append(ConfigError(path: "\(path).receivers", "must have at least one receiver")) }
            }
            if spec.exporters.isEmpty {
                if skipped && droppedExporters {
                    config.warnings.append("\(path): skipped: none of its exporters is supported")
                    continue
                }
                if !droppedExporters && !badReference.contains("exporters") { errors.append(ConfigError(path: "\(path).exporters", "must have at least one exporter")) }
            }
            config.pipelines.append(spec)
        }
        for kind in [ComponentKind.receiver, .processor, .exporter, .extension] {
            for (id, c) in config.components(kind).sorted(by: { $0.key < $1.key }) {
                guard let refs = (c.config as? ReferencesExtensions)?.extensionReferences else { continue }
                for (key, ext) in refs where !config.enabledExtensions.contains(ext) {
                    let why = config.extensions[ext] == nil ? "which is not configured in extensions" : "which is not listed in service.extensions"
                    errors.append(ConfigError(path: "\(kind.section).\(id).\(key)", "references extension \"\(ext)\" \(why)"))
                }
            }
        }
        if rawPipelines.isEmpty && !errors.contains(where: { $0.path == "service" }) {
            errors.append(ConfigError(path: "service.pipelines", "at least one traces pipeline is required"))
        } else if config.pipelines.isEmpty && errors.isEmpty {
            errors.append(ConfigError(path: "service.pipelines", "no traces pipeline is left to run: every one uses an unsupported receiver or exporter (see the warnings)"))
        }
        for kind in [ComponentKind.receiver, .processor, .exporter] {
            for id in config.components(kind).keys.sorted() where used[kind]?.contains(id) != true {
                config.warnings.append("\(kind.section).\(id): defined but used in no pipeline; it will not run")
            }
        }
        for id in config.extensions.keys.sorted() where !config.enabledExtensions.contains(id) {
            config.warnings.append("extensions.\(id): defined but not listed in service.extensions; it will not run")
        }
    }
}

/// The deprecated `logging` exporter runs as `debug`; its `loglevel` maps onto `verbosity`.
enum LoggingAlias {
    static func translate(_ node: ConfigNode) -> ConfigNode {
        guard case .mapping = node, let level = node["loglevel"] else { return node }
        var out = node
        out.remove("loglevel")
        if out["verbosity"] == nil, case .scalar(let l, _) = level {
            out.set("verbosity", .scalar(l == "debug" ? "detailed" : l == "info" ? "normal" : "basic"))
        }
        return out
    }
}
