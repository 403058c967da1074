import Foundation

/// `extensions.file_storage`: a directory where components (the persistent sending queue) keep
/// data across restarts. Each client gets its own sub-directory, named like the collector's
/// storage clients: `exporter_<type>_<name>_traces`.
public struct FileStorageConfig: Decodable, Sendable {
    public var directory = "/var/lib/otelcol/file_storage"
    public var createDirectory = false
    public var directoryPermissions = 0o750
    public var fsync = false
    public var timeout = ConfigDuration.seconds(1)

    public init() {}

    enum Keys: String, CodingKey {
        case directory, create_directory, directory_permissions, fsync, timeout, compaction, recreate
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        directory = try c.value(.directory, or: directory)
        guard !directory.isEmpty else { throw decoder.invalid("directory", "must not be empty") }
        createDirectory = try c.value(.create_directory, or: false)
        if let p = try c.decodeIfPresent(String.self, forKey: .directory_permissions) {
            guard let v = Int(p, radix: 8) else { throw decoder.invalid("directory_permissions", "expected an octal mode such as \"0750\", got \"\(p)\"") }
            directoryPermissions = v
        }
        fsync = try c.value(.fsync, or: false)
        timeout = try c.value(.timeout, or: timeout)
        // Compaction and recreate concern bbolt databases; tracepipe's queue files need neither.
        _ = try c.decodeIfPresent(ConfigNode.self, forKey: .compaction)
        _ = try c.decodeIfPresent(Bool.self, forKey: .recreate)
    }
}

public final class FileStorageExtension: Extension {
    public let config: FileStorageConfig
    let context: ComponentContext

    public init(config: FileStorageConfig, context: ComponentContext) {
        self.config = config
        self.context = context
    }

    public func start(_ host: ComponentHost) async throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: config.directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw StartError(message: "file_storage directory \(config.directory) is not a directory") }
        } else if config.createDirectory {
            try FileManager.default.createDirectory(atPath: config.directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: config.directoryPermissions])
        } else {
            throw StartError(message: "file_storage directory \(config.directory) does not exist (create it, or set create_directory: true)")
        }
        guard access(config.directory, W_OK) == 0 else {
            throw StartError(message: "file_storage directory \(config.directory) is not writable by this process")
        }
    }

    /// The directory for one component's data. A processor exists once per pipeline, so its
    /// directory also names the pipeline (`processor_tail_sampling_<name>_<pipeline>`).
    public func directory(for id: ComponentID, kind: ComponentKind, pipeline: ComponentID? = nil) throws -> String {
        let owner = pipeline.map { "\(kind.rawValue)_\(id.type)_\(id.name)_\($0)" } ?? "\(kind.rawValue)_\(id.type)_\(id.name)_traces"
        let name = owner.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" }
        let dir = config.directory + "/" + String(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
