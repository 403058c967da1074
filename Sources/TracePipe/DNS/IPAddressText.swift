#if canImport(Glibc)
import Glibc
#endif

/// IP addresses between text and bytes with the C library's inet_pton/inet_ntop, whose
/// text form (lower-case, longest zero run shortened) is the one Go's net.IP prints: the
/// resolver's endpoint names, and so the ring, come out as the collector's do.
enum IPAddressText {
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func text(_ bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16:
            // Go prints an IPv4-mapped IPv6 address as plain IPv4.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return text(Array(bytes[12...]))
            }
            family = AF_INET6
        default: return nil
        }
        var out = [CChar](repeating: 0, count: 64)
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &out, 64) != nil }
        guard ok else { return nil }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
