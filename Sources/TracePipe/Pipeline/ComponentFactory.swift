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

    public static func receiver<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext, any TraceConsumer) throws -> any Receiver
    ) -> ComponentFactory {
        ComponentFactory(
            kind: .receiver, type: type, aliases: aliases, summary: summary,
            decodeConfig: { try C(from: $0) },
            create: { config, context, next in try create(config as! C, context, next!) }
        )
    }

    public static func processor<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext, any TraceConsumer) throws -> any Processor
    ) -> ComponentFactory {
        ComponentFactory(
            kind: .processor, type: type, aliases: aliases, summary: summary,
            decodeConfig: { try C(from: $0) },
            create: { config, context, next in try create(config as! C, context, next!) }
        )
    }

    public static func exporter<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext) throws -> any Exporter
    ) -> ComponentFactory {
        ComponentFactory(
            kind: .exporter, type: type, aliases: aliases, summary: summary,
            decodeConfig: { try C(from: $0) },
            create: { config, context, _ in try create(config as! C, context) }
        )
    }

    public static func `extension`<C: Decodable & Sendable>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        create: @escaping @Sendable (C, ComponentContext) throws -> any Extension
    ) -> ComponentFactory {
        ComponentFactory(
            kind: .extension, type: type, aliases: aliases, summary: summary,
            decodeConfig: { try C(from: $0) },
            create: { config, context, _ in try create(config as! C, context) }
        )
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
