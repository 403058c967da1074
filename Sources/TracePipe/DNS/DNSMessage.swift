/// The two DNS messages the resolver needs (RFC 1035): a recursive query for one name and type
/// (with an EDNS0 OPT record offering 4,096-byte UDP answers; larger ones come truncated and are
/// asked again over TCP), and the addresses in an answer.
enum DNSMessage {
    enum RecordType: UInt16 {
        case a = 1
        case aaaa = 28
    }

    enum ParseError: Error, CustomStringConvertible {
        case malformed(String)

        var description: String {
            switch self {
            case .malformed(let why): return "malformed DNS answer: \(why)"
            }
        }
    }

    struct Answer {
        var id: UInt16
        /// RCODE: 0 no error, 3 NXDOMAIN, others server failures.
        var responseCode: UInt8
        var truncated: Bool
        /// A and AAAA record data, 4 or 16 bytes each.
        var addresses: [[UInt8]]
    }

    static func query(id: UInt16, name: String, type: RecordType) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(32 + name.utf8.count)
        append16(&out, id)
        append16(&out, 0x0100)  // RD: ask for recursion
        append16(&out, 1)  // one question
        append16(&out, 0)
        append16(&out, 0)
        append16(&out, 1)  // one additional record: OPT
        for label in name.split(separator: ".", omittingEmptySubsequences: true) {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count <= 63 else { return nil }
            out.append(UInt8(bytes.count))
            out.append(contentsOf: bytes)
        }
        out.append(0)
        guard out.count - 12 <= 255 else { return nil }
        append16(&out, type.rawValue)
        append16(&out, 1)  // class IN
        // OPT: root name, type 41, UDP payload size 4096, no extended flags, no options.
        out.append(0)
        append16(&out, 41)
        append16(&out, 4096)
        out.append(contentsOf: [0, 0, 0, 0, 0, 0])
        return out
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> Answer {
        var r = Reader(bytes: bytes)
        let id = try r.u16()
        let flags = try r.u16()
        guard flags & 0x8000 != 0 else { throw .malformed("not a response") }
        let questions = try r.u16()
        let answers = try r.u16()
        _ = try r.u16()
        _ = try r.u16()
        for _ in 0..<questions {
            try r.skipName()
            try r.skip(4)
        }
        var addresses: [[UInt8]] = []
        for _ in 0..<answers {
            try r.skipName()
            let type = try r.u16()
            let cls = try r.u16()
            try r.skip(4)  // TTL
            let length = Int(try r.u16())
            let data = try r.take(length)
            guard cls == 1 else { continue }
            if type == RecordType.a.rawValue && length == 4 || type == RecordType.aaaa.rawValue && length == 16 {
                addresses.append(data)
            }
        }
        return Answer(id: id, responseCode: UInt8(flags & 0x000F), truncated: flags & 0x0200 != 0, addresses: addresses)
    }

    private static func append16(_ out: inout [UInt8], _ v: UInt16) {
        out.append(UInt8(v >> 8))
        out.append(UInt8(v & 0xFF))
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() throws(ParseError) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw .malformed("cut short at byte \(offset)") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func skip(_ n: Int) throws(ParseError) {
            guard offset + n <= bytes.count else { throw .malformed("cut short at byte \(offset)") }
            offset += n
        }

        mutating func take(_ n: Int) throws(ParseError) -> [UInt8] {
            guard offset + n <= bytes.count else { throw .malformed("cut short at byte \(offset)") }
            defer { offset += n }
            return Array(bytes[offset..<offset + n])
        }

        /// Skips a name in place: labels up to the root, or up to a compression pointer.
        mutating func skipName() throws(ParseError) {
            while true {
                guard offset < bytes.count else { throw .malformed("name cut short at byte \(offset)") }
                let len = bytes[offset]
                if len & 0xC0 == 0xC0 {
                    try skip(2)
                    return
                }
                guard len & 0xC0 == 0 else { throw .malformed("bad label at byte \(offset)") }
                try skip(1 + Int(len))
                if len == 0 { return }
            }
        }
    }
}
