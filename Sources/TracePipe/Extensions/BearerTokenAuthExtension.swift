import FoundationEssentials
import NIOConcurrencyHelpers

/// `extensions.bearertokenauth`: as an exporter's `auth.authenticator`, sends
/// `<header>: <scheme> <token>` (default `Authorization: Bearer …`). With `filename` the token
/// is read from that file and read again when the file changes, so a rotated Kubernetes
/// service-account token is picked up without a restart.
public struct BearerTokenAuthConfig: Decodable, Sendable {
    public var header = "Authorization"
    public var scheme = "Bearer"
    public var token = ""
    public var filename = ""

    enum Keys: String, CodingKey { case header, scheme, token, tokens, filename }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        header = try c.value(.header, or: "Authorization")
        guard !header.isEmpty else { throw decoder.invalid("header", "must not be empty") }
        scheme = try c.value(.scheme, or: "Bearer")
        token = try c.value(.token, or: "")
        filename = try c.value(.filename, or: "")
        let tokens: [String] = try c.value(.tokens, or: [])
        if token.isEmpty && filename.isEmpty {
            if tokens.isEmpty { throw decoder.invalid("no bearer token provided (token or filename)") }
            decoder.reportUnsupported("tokens", "a list of accepted tokens is for server-side authentication, which tracepipe's receivers do not have; set token or filename")
        }
    }
}

public final class BearerTokenAuthExtension: ClientAuthenticator, BuiltFromConfig {
    let config: BearerTokenAuthConfig
    public var metadataKeys: [String] { [] }

    /// The token file's last read: content, modification time, and when it was last checked.
    struct FileState {
        var token = ""
        var modified: Date?
        var checked = ContinuousClock.Instant.now
    }
    private let file = NIOLockedValueBox(FileState())
    /// How often the token file is checked for a change.
    static let recheckInterval = Duration.seconds(1)

    public init(config: BearerTokenAuthConfig) {
        self.config = config
    }

    public func start(_ host: ComponentHost) async throws {
        guard !config.filename.isEmpty else { return }
        // A missing or unreadable token file is a setup error: say so at start, not per request.
        let state = try Self.read(config.filename)
        file.withLockedValue { $0 = state }
    }

    static func read(_ path: String) throws -> FileState {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StartError(message: "bearertokenauth: cannot read the token file \(path)")
        }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
        return FileState(token: String(decoding: data, as: UTF8.self).trimmingWhitespace(), modified: modified)
    }

    /// The current token: the file's (re-read when it changed) or the configured one.
    func currentToken() -> String {
        guard !config.filename.isEmpty else { return config.token }
        return file.withLockedValue { state in
            let now = ContinuousClock.now
            if now - state.checked >= Self.recheckInterval {
                state.checked = now
                let modified = (try? FileManager.default.attributesOfItem(atPath: config.filename)[.modificationDate]) as? Date
                // Keep the last good token while the file is briefly missing (being replaced).
                if let modified, modified != state.modified, var fresh = try? Self.read(config.filename) {
                    fresh.checked = now
                    state = fresh
                }
            }
            return state.token
        }
    }

    public func headerEdits(for metadata: [String: [String]]) throws(ExportError) -> [HeaderEdit] {
        let token = currentToken()
        return [HeaderEdit(.upsert, config.header, config.scheme.isEmpty ? token : "\(config.scheme) \(token)")]
    }
}
