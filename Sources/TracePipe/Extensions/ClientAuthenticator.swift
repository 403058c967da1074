/// One change an authenticator makes to an outgoing request's headers (or gRPC metadata).
public struct HeaderEdit: Sendable, Equatable {
    public enum Action: String, ConfigEnum, Sendable {
        /// Set only when the request does not have the header yet.
        case insert
        /// Replace only when the request has the header.
        case update
        /// Set, replacing any value it had.
        case upsert
        /// Remove the header.
        case delete
    }

    public var action: Action
    public var name: String
    public var value: String

    public init(_ action: Action, _ name: String, _ value: String = "") {
        self.action = action
        self.name = name
        self.value = value
    }
}

/// An extension an exporter names in `auth.authenticator`: it decides headers per request, from
/// its own config and the request metadata the request carries.
public protocol ClientAuthenticator: Extension {
    /// The request-metadata keys (lower-cased) it reads; exporters keep these with each queued
    /// request so they survive queueing, batching and (persistent queue) restarts.
    var metadataKeys: [String] { get }

    /// The header edits for one request; an error means the request cannot be sent as is and
    /// is permanent (retrying would compute the same headers).
    func headerEdits(for metadata: [String: [String]]) throws(ExportError) -> [HeaderEdit]
}

/// An exporter's `auth` section: `authenticator` names a client-authenticator extension.
public struct ClientAuthConfig: Decodable, Sendable, Equatable {
    public var authenticator: ComponentID

    enum Keys: String, CodingKey { case authenticator }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        guard let text = try c.decodeIfPresent(String.self, forKey: .authenticator), !text.isEmpty else {
            throw decoder.invalid("authenticator", "required: the id of an authenticator extension, e.g. headers_setter")
        }
        switch ComponentID.parse(text) {
        case .success(let id): authenticator = id
        case .failure(let e): throw decoder.invalid("authenticator", e.message)
        }
    }
}
