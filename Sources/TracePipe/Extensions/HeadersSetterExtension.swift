/// `extensions.headers_setter`: sets headers on an exporter's requests (the exporter names it in
/// `auth.authenticator`), from a fixed `value` or from the request metadata (`from_context`) —
/// the usual way to send each tenant's spans to a multi-tenant Tempo with its `X-Scope-OrgID`.
public struct HeadersSetterConfig: Decodable, Sendable {
    public struct Header: Decodable, Sendable {
        public enum Source: Sendable, Equatable {
            case value(String)
            /// A request-metadata key (lower-cased) and the value used when it is absent.
            case context(key: String, defaultValue: String)
            case none
        }

        public var key: String
        public var action: HeaderEdit.Action
        public var source: Source

        enum Keys: String, CodingKey { case key, action, value, from_context, from_attribute, default_value }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            key = try c.value(.key, or: "")
            guard !key.isEmpty else { throw decoder.invalid("key", "missing header name") }
            // An HTTP field name is a token: no spaces, colons or control characters.
            guard key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !"\"(),/:;<=>?@[\\]{}".utf8.contains($0) }) else {
                throw decoder.invalid("key", "\"\(key)\" is not a valid header name")
            }
            if c.contains(.action) {
                action = try c.decode(HeaderEdit.Action.self, forKey: .action)
            } else {
                action = .upsert
                decoder.warn("action not set; using upsert (the collector will require it in future versions)")
            }
            let value = try c.decodeIfPresent(String.self, forKey: .value)
            let fromContext = try c.decodeIfPresent(String.self, forKey: .from_context)
            let fromAttribute = try c.decodeIfPresent(String.self, forKey: .from_attribute)
            let defaultValue = try c.decodeIfPresent(String.self, forKey: .default_value)
            // A line break or NUL in a header value would corrupt the request (or inject headers).
            for (k, v) in [(Keys.value, value), (.default_value, defaultValue)] {
                if let v, v.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0 }) {
                    throw decoder.invalid(k.rawValue, "a header value must not contain line breaks or NUL")
                }
            }
            let sources = [value, fromContext, fromAttribute].compactMap { $0 }.count
            if action == .delete {
                source = .none
                return
            }
            guard sources > 0 else {
                throw decoder.invalid("missing header source, must be 'from_context', 'from_attribute' or 'value'")
            }
            guard sources == 1 else {
                throw decoder.invalid("invalid header source, must either 'from_context', 'from_attribute' or 'value'")
            }
            if let value {
                source = .value(value)
            } else if let fromContext {
                source = .context(key: fromContext.lowercased(), defaultValue: defaultValue ?? "")
            } else {
                // Auth attributes come from a receiver-side authenticator, which tracepipe's
                // receivers do not have: the header would always get its default.
                decoder.reportUnsupported("from_attribute", "tracepipe's receivers have no authenticators, so there are no auth attributes to read")
                source = .value(defaultValue ?? "")
            }
        }
    }

    public var headers: [Header]

    enum Keys: String, CodingKey { case headers }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        headers = try c.value(.headers, or: [])
        guard !headers.isEmpty else { throw decoder.invalid("headers", "missing headers configuration") }
    }
}

public final class HeadersSetterExtension: ClientAuthenticator, BuiltFromConfig {
    let config: HeadersSetterConfig
    public let metadataKeys: [String]

    public init(config: HeadersSetterConfig) {
        self.config = config
        metadataKeys = RequestMetadata.normalized(config.headers.compactMap {
            if case .context(let key, _) = $0.source { return key }
            return nil
        })
    }

    public func headerEdits(for metadata: [String: [String]]) throws(ExportError) -> [HeaderEdit] {
        var edits: [HeaderEdit] = []
        edits.reserveCapacity(config.headers.count)
        for h in config.headers {
            switch h.source {
            case .value(let v):
                edits.append(HeaderEdit(h.action, h.key, v))
            case .context(let key, let defaultValue):
                let values = metadata[key] ?? []
                guard values.count <= 1 else {
                    throw .permanent("headers_setter: \(values.count) values of \"\(key)\" in the request metadata, can't determine which one to use for header \(h.key)")
                }
                edits.append(HeaderEdit(h.action, h.key, values.first ?? defaultValue))
            case .none:
                edits.append(HeaderEdit(h.action, h.key))
            }
        }
        return edits
    }
}
