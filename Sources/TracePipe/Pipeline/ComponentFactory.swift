/// A component config that names extensions it needs at run time (e.g. a persistent queue's
/// `sending_queue.storage`), so the loader can check them before anything starts.
public protocol ReferencesExtensions {
    var extensionReferences: [(key: String, id: ComponentID)] { get }
}

/// Knows how to read one component type's config and build the component. Adding a component
/// is writing its file and listing its factory in `ComponentRegistry.builtIn`.
public struct ComponentFactory: Sendable {
    public let kind: ComponentKind
    public let type: String
    /// Other type names accepted for the same component (old and new collector names).
    public let aliases: [String]
    /// One line for `tracepipe components`.
    public let summary: String
    let decodeConfig: @Sendable (any Decoder) throws -> any Sendable
    let create: @Sendable (_ config: any Sendable, _ context: ComponentContext, _ next: (any TraceConsumer)?) throws -> any Component

    /// A factory for configs of type `C`: what every kind's constructor below shares.
    private static func make<C: Decodable & Sendable>(
        _ kind: ComponentKind, _ type: String, _ aliases: [String], _ summary: String,
        create: @escaping @Sendable (C, ComponentContext, (any TraceConsumer)?) throws -> any Component
    ) -> ComponentFactory {
        ComponentFactory(kind: kind, type: type, aliases: aliases, summary: summary,
                         decodeConfig: { try C(from: $0) }, create: { config, context, next in try create(config as! C, context, next) })
    }

    public static func receiver<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext, any TraceConsumer) throws -> any Receiver
    ) -> ComponentFactory {
        make(.receiver, type, aliases, summary) { (config: C, context, next) in try create(config, context, next!) }
    }

    public static func processor<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext, any TraceConsumer) throws -> any Processor
    ) -> ComponentFactory {
        make(.processor, type, aliases, summary) { (config: C, context, next) in try create(config, context, next!) }
    }

    public static func exporter<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext) throws -> any Exporter
    ) -> ComponentFactory {
        make(.exporter, type, aliases, summary) { (config: C, context, _) in try create(config, context) }
    }

    public static func `extension`<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext) throws -> any Extension
    ) -> ComponentFactory {
        make(.extension, type, aliases, summary) { (config: C, context, _) in try create(config, context) }
    }
}

/// The component types tracepipe has, by kind and type name (aliases included).
public struct ComponentRegistry: Sendable {
    public let factories: [ComponentFactory]

    public init(_ factories: [ComponentFactory]) {
        self.factories = factories
    }

    public func factory(_ kind: ComponentKind, _ type: String) -> ComponentFactory? {
        factories.first { $0.kind == kind && ($0.type == type || $0.aliases.contains(type)) }
    }

    public func types(_ kind: ComponentKind) -> [String] {
        factories.filter { $0.kind == kind }.map(\.type)
    }
}

/// A component built from its config alone (no context, no next consumer): its factory is one
/// line in the registry.
public protocol BuiltFromConfig {
    associatedtype Config: Decodable & Sendable
    init(config: Config)
}

extension ComponentFactory {
    public static func spanProcessor<P: SpanProcessing & BuiltFromConfig>(_ type: String, aliases: [String] = [], summary: String,
                                                                        _ processing: P.Type) -> ComponentFactory {
        spanProcessor(type, aliases: aliases, summary: summary, config: P.Config.self) { config, _ in P(config: config) }
    }

    public static func `extension`<E: Extension & BuiltFromConfig>(_ type: String, aliases: [String] = [], summary: String,
                                                                 _ ext: E.Type) -> ComponentFactory {
        .extension(type, aliases: aliases, summary: summary, config: E.Config.self) { config, _ in E(config: config) }
    }
}
