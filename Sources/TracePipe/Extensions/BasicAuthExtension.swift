import FoundationEssentials

/// `extensions.basicauth`: as an exporter's `auth.authenticator`, sends
/// `Authorization: Basic <base64(username:password)>` (Grafana Cloud's OTLP endpoint, a Tempo
/// behind a gateway). The server side (`htpasswd`, checking receivers' clients) is not
/// supported: tracepipe's receivers have no authenticators.
public struct BasicAuthConfig: Decodable, Sendable {
    public var username = ""
    public var password = ""

    enum Keys: String, CodingKey { case htpasswd, client_auth }
    enum ClientKeys: String, CodingKey { case username, password }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let server = c.contains(.htpasswd)
        let client = c.contains(.client_auth)
        if server && client { throw decoder.invalid("only one of `htpasswd` or `client_auth` can be specified") }
        if !server && !client { throw decoder.invalid("no credential source provided (client_auth: {username, password})") }
        if server {
            decoder.reportUnsupported("htpasswd", "server-side basic authentication is not supported: tracepipe's receivers have no authenticators")
            return
        }
        let a = try c.nestedContainer(keyedBy: ClientKeys.self, forKey: .client_auth)
        username = try a.value(.username, or: "")
        password = try a.value(.password, or: "")
    }
}

public final class BasicAuthExtension: ClientAuthenticator, BuiltFromConfig {
    let edits: [HeaderEdit]
    public var metadataKeys: [String] { [] }

    public init(config: BasicAuthConfig) {
        let credentials = Data("\(config.username):\(config.password)".utf8).base64EncodedString()
        edits = [HeaderEdit(.upsert, "Authorization", "Basic \(credentials)")]
    }

    public func headerEdits(for metadata: [String: [String]]) throws(ExportError) -> [HeaderEdit] { edits }
}
