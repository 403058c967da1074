import FoundationEssentials

/// What /etc/resolv.conf says (nameservers, search domains, ndots) and what /etc/hosts maps, read
/// the way glibc and Go read them, so names resolve in a Pod as they do for the collector: a
/// Service's short name is tried with the Pod's search domains first.
struct ResolverFiles: Sendable {
    var nameservers: [DNSServerAddress] = []
    var search: [String] = []
    var ndots = 1
    /// Lower-cased host name → addresses, in file order.
    var hosts: [String: [String]] = [:]

    static func load(resolvConf: String = "/etc/resolv.conf", hosts: String = "/etc/hosts") -> ResolverFiles {
        var files = ResolverFiles()
        if let text = try? String(contentsOfFile: resolvConf, encoding: .utf8) { files.readResolvConf(text) }
        if let text = try? String(contentsOfFile: hosts, encoding: .utf8) { files.readHosts(text) }
        if files.nameservers.isEmpty { files.nameservers = [DNSServerAddress("127.0.0.1")!] }
        return files
    }

    mutating func readResolvConf(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = words.first, !first.hasPrefix("#"), !first.hasPrefix(";") else { continue }
            switch first {
            case "nameserver":
                // A bare address (glibc reads no port here); at most three, as glibc.
                if words.count > 1, nameservers.count < 3, IPAddressText.bytes(words[1]) != nil, let s = DNSServerAddress(words[1]) {
                    nameservers.append(s)
                }
            case "search", "domain":
                // The last of search/domain wins, as in glibc.
                search = Array(words.dropFirst())
            case "options":
                for o in words.dropFirst() where o.hasPrefix("ndots:") {
                    if let n = Int(o.dropFirst(6)) { ndots = min(max(n, 0), 15) }
                }
            default: continue
            }
        }
    }

    mutating func readHosts(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count >= 2, IPAddressText.bytes(words[0]) != nil else { continue }
            for name in words.dropFirst() { hosts[name.lowercased(), default: []].append(words[0]) }
        }
    }

    /// The names to ask for, in order (resolv.conf(5)): as written first when it has at least
    /// `ndots` dots, else the search domains first; a trailing dot means exactly that name.
    func candidates(for name: String) -> [String] {
        if name.hasSuffix(".") { return [String(name.dropLast())] }
        let dots = name.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: ".") ? 1 : 0) }
        let searched = search.map { "\(name).\($0.hasSuffix(".") ? String($0.dropLast()) : $0)" }
        return dots >= ndots ? [name] + searched : searched + [name]
    }
}

/// A DNS server to ask: an IP address and port (53 unless given).
struct DNSServerAddress: Hashable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    init?(_ text: String) {
        let t = text.trimmingSpaces()
        if t.hasPrefix("["), let close = t.firstIndex(of: "]") {
            host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            if rest.isEmpty { port = 53 } else {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if t.filter({ $0 == ":" }).count == 1, let colon = t.firstIndex(of: ":") {
            host = String(t[..<colon])
            guard let p = Int(t[t.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
        } else {
            host = t
            port = 53
        }
        guard IPAddressText.bytes(host) != nil else { return nil }
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
