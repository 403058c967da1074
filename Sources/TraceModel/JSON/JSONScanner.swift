/// A forward-only JSON tokenizer over raw bytes. It never allocates except for the strings it
/// returns, reads no byte past the end, and bounds nesting depth so hostile input cannot blow the stack.
struct JSONScanner: ~Copyable {
    let base: UnsafeRawBufferPointer
    var pos: Int = 0
    var depth: Int = 0
    static let maxDepth = 64

    init(_ base: UnsafeRawBufferPointer) {
        self.base = base
    }

    @inline(__always) var atEnd: Bool { pos >= base.count }

    /// The current byte, or 0 at the end of input (0 is never valid JSON here, so it fails naturally).
    @inline(__always) func peek() -> UInt8 {
        pos < base.count ? base[pos] : 0
    }

    func error(_ reason: String) -> JSONDecodingError {
        JSONDecodingError(reason, offset: pos)
    }

    func describeCurrent() -> String {
        if atEnd { return "end of input" }
        let c = base[pos]
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + String(c, radix: 16)
    }

    /// Inlined everywhere a token starts, so it only makes the one test compact JSON (what SDKs
    /// send) needs; the loop over actual whitespace is out of line.
    @inline(__always) mutating func skipWhitespace() {
        guard pos < base.count, base[pos] <= 0x20 else { return }
        skipWhitespaceRun()
    }

    @inline(never) private mutating func skipWhitespaceRun() {
        while pos < base.count {
            let c = base[pos]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos &+= 1 } else { return }
        }
    }

    /// Skips whitespace and returns the next significant byte without consuming it.
    @inline(__always) mutating func next() -> UInt8 {
        skipWhitespace()
        return peek()
    }

    @inline(__always) mutating func expect(_ c: UInt8, _ what: StaticString) throws(JSONDecodingError) {
        skipWhitespace()
        guard peek() == c else { throw unexpected(what) }
        pos &+= 1
    }

    @inline(never) func unexpected(_ what: StaticString) -> JSONDecodingError {
        error("expected \(what), found \(describeCurrent())")
    }

    /// Consumes `null` if it is next. Returns whether it did.
    @inline(__always) mutating func consumeNull() -> Bool {
        skipWhitespace()
        guard pos &+ 4 <= base.count, base[pos] == UInt8(ascii: "n"), base[pos &+ 1] == UInt8(ascii: "u"),
              base[pos &+ 2] == UInt8(ascii: "l"), base[pos &+ 3] == UInt8(ascii: "l") else { return false }
        pos &+= 4
        return true
    }

    mutating func consumeLiteral(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard pos &+ n <= base.count else { return false }
        let p = word.utf8Start
        for k in 0..<n where base[pos &+ k] != p[k] { return false }
        pos &+= n
        return true
    }

    // MARK: objects and arrays

    /// Opens an object. Returns false for `null` (treated as absent by callers that allow it).
    mutating func beginObject(allowNull: Bool = true) throws(JSONDecodingError) -> Bool {
        try open(UInt8(ascii: "{"), allowNull: allowNull, "an object")
    }

    /// Opens an object or array at its bracket, counting the nesting; false for an allowed `null`.
    @inline(__always)
    private mutating func open(_ bracket: UInt8, allowNull: Bool, _ what: StaticString) throws(JSONDecodingError) -> Bool {
        skipWhitespace()
        if peek() == bracket {
            depth &+= 1
            if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
            pos &+= 1
            return true
        }
        if allowNull && consumeNull() { return false }
        throw error("expected \(what), found \(describeCurrent())")
    }

    /// Steps to the next member of an open object or element of an open array: false (the
    /// closing byte consumed) when it closed, else past the `,` separating it from the one before.
    @inline(__always)
    private mutating func nextMember(closing: UInt8, first: inout Bool) throws(JSONDecodingError) -> Bool {
        skipWhitespace()
        let c = peek()
        if c == closing {
            pos &+= 1
            depth &-= 1
            return false
        }
        if !first {
            guard c == UInt8(ascii: ",") else {
                let container = closing == UInt8(ascii: "}") ? "'}' in object" : "']' in array"
                throw error("expected ',' or \(container), found \(describeCurrent())")
            }
            pos &+= 1
        }
        first = false
        return true
    }

    /// Steps to the next key of an open object and stops at its opening quote; false (the `}`
    /// consumed) when the object closed.
    @inline(__always)
    private mutating func atNextKey(first: inout Bool) throws(JSONDecodingError) -> Bool {
        guard try nextMember(closing: UInt8(ascii: "}"), first: &first) else { return false }
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a field name, found \(describeCurrent())") }
        return true
    }

    /// Moves to the next key of an open object. Returns the key's raw bytes (escapes are resolved
    /// into `scratch` only when present), or nil when the object closed.
    mutating func nextKey(first: inout Bool) throws(JSONDecodingError) -> UnsafeRawBufferPointer? {
        guard try atNextKey(first: &first) else { return nil }
        pos &+= 1
        let start = pos
        guard let key = try plainStringBody(unterminated: "unterminated field name")?.raw else {
            // Escaped keys never match a known field; skip it as a whole and report an unknown key.
            pos = start &- 1
            _ = try readString()
            try expect(UInt8(ascii: ":"), "':' after field name")
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        try expect(UInt8(ascii: ":"), "':' after field name")
        return key
    }

    /// After a string's opening quote: its bytes and whether they are all ASCII, with `pos` past
    /// the closing quote; nil (with `pos` at the backslash) when an escape comes first.
    @inline(__always)
    private mutating func plainStringBody(unterminated: String) throws(JSONDecodingError) -> (raw: UnsafeRawBufferPointer, ascii: Bool)? {
        let start = pos
        var ascii = true
        skipPlainStringBytes()
        while pos < base.count {
            let b = base[pos]
            if b == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: base[start..<pos])
                pos &+= 1
                return (raw, ascii)
            }
            if b == UInt8(ascii: "\\") { return nil }
            if b >= 0x80 { ascii = false }
            pos &+= 1
        }
        pos = start
        throw error(unterminated)
    }

    /// Moves to the next key of an open object and returns it as a string (escapes resolved),
    /// or nil when the object closed. For maps with arbitrary keys (Zipkin tags).
    mutating func nextKeyString(first: inout Bool) throws(JSONDecodingError) -> String? {
        var none: StringInterner? = nil
        return try nextKeyString(first: &first, interner: &none)
    }

    /// As `nextKeyString(first:)`, sharing repeated keys through `interner` when given.
    mutating func nextKeyString(first: inout Bool, interner: inout StringInterner?) throws(JSONDecodingError) -> String? {
        guard try atNextKey(first: &first) else { return nil }
        let key: String
        if interner != nil {
            key = try readString(interner: &interner!)
        } else {
            key = try readString()
        }
        try expect(UInt8(ascii: ":"), "':' after field name")
        return key
    }

    /// Fast path for the field the caller expects next: consumes `"name":` (after a `,` unless it
    /// is the first field) when the input has exactly that, and returns whether it did. On false
    /// nothing is consumed and the generic `nextKey` loop takes over.
    @inline(__always)
    mutating func consumeExpectedKey(_ name: StaticString, first: inout Bool) -> Bool {
        skipWhitespace()
        var p = pos
        if !first {
            guard p < base.count, base[p] == UInt8(ascii: ",") else { return false }
            p &+= 1
        }
        let n = name.utf8CodeUnitCount
        guard p &+ n &+ 3 <= base.count, base[p] == UInt8(ascii: "\""),
              base[p &+ n &+ 1] == UInt8(ascii: "\""), base[p &+ n &+ 2] == UInt8(ascii: ":") else { return false }
        let lit = name.utf8Start
        for k in 0..<n where base[p &+ 1 &+ k] != lit[k] { return false }
        pos = p &+ n &+ 3
        first = false
        return true
    }

    /// Opens an array. Returns false for `null`.
    mutating func beginArray() throws(JSONDecodingError) -> Bool {
        try open(UInt8(ascii: "["), allowNull: true, "an array")
    }

    /// Moves to the next element of an open array; false when the array closed.
    mutating func nextElement(first: inout Bool) throws(JSONDecodingError) -> Bool {
        try nextMember(closing: UInt8(ascii: "]"), first: &first)
    }

    // MARK: strings

    /// Moves to the next quote, backslash, control character or non-ASCII byte (or the end),
    /// 8 bytes at a time while none of them can be one.
    @inline(__always) mutating func skipPlainStringBytes() {
        let end = base.count &- 8
        while pos <= end {
            let w = base.loadUnaligned(fromByteOffset: pos, as: UInt64.self)
            let lows: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let quote = w ^ (lows &* 0x22)
            let slash = w ^ (lows &* 0x5C)
            // A byte is "special" if it is 0x22, 0x5C, < 0x20 or >= 0x80.
            let special = ((quote &- lows) & ~quote) | ((slash &- lows) & ~slash) | (w &- (lows &* 0x20)) | w
            let hits = special & highs
            if hits != 0 {
                // Borrows only run towards higher bytes, so the lowest hit is a real one.
                pos &+= hits.trailingZeroBitCount >> 3
                return
            }
            pos &+= 8
        }
        while pos < base.count {
            let b = base[pos]
            if b == 0x22 || b == 0x5C || b < 0x20 || b >= 0x80 { return }
            pos &+= 1
        }
    }

    /// Reads a string, taking ASCII strings through `interner` (see `StringInterner`).
    mutating func readString(interner: inout StringInterner) throws(JSONDecodingError) -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string, found \(describeCurrent())") }
        let open = pos
        pos &+= 1
        let start = pos
        skipPlainStringBytes()
        if pos < base.count && base[pos] == UInt8(ascii: "\"") {
            let raw = UnsafeRawBufferPointer(rebasing: base[start..<pos])
            pos &+= 1
            // Long strings (URLs, statements, tokens) rarely repeat: caching them would only
            // evict the short keys and values that do.
            if raw.count > StringInterner.maxLength { return String(decoding: raw, as: UTF8.self) }
            return interner.string(ascii: raw, overRead: start &+ 16 <= base.count)
        }
        pos = open
        return try readString()
    }

    /// Reads a JSON string value (the next token must be a string) and validates its UTF-8.
    mutating func readString() throws(JSONDecodingError) -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string, found \(describeCurrent())") }
        pos &+= 1
        let start = pos
        guard let body = try plainStringBody(unterminated: "unterminated string") else { return try readEscapedString(from: start) }
        if body.ascii { return String(decoding: body.raw, as: UTF8.self) }
        guard let s = String(validating: body.raw, as: UTF8.self) else {
            pos = start
            throw error("string is not valid UTF-8")
        }
        return s
    }

    /// Slow path for strings with escapes: rebuilds the bytes, then validates them.
    private mutating func readEscapedString(from start: Int) throws(JSONDecodingError) -> String {
        var out = [UInt8]()
        out.reserveCapacity(pos - start + 16)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: base[start..<pos]))
        while pos < base.count {
            // Copy the plain run up to the next special byte in one go.
            let run = pos
            skipPlainStringBytes()
            if pos > run { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: base[run..<pos])) }
            guard pos < base.count else { break }
            let b = base[pos]
            if b == UInt8(ascii: "\"") {
                pos &+= 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw JSONDecodingError("string is not valid UTF-8", offset: start)
                }
                return s
            }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                pos &+= 1
                continue
            }
            pos &+= 1
            guard pos < base.count else { break }
            let e = base[pos]
            pos &+= 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try readHex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate must pair with a low one; a lone one becomes U+FFFD (as Go does).
                    if pos + 6 <= base.count, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u") {
                        let save = pos
                        pos &+= 2
                        let low = try readHex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00..<0xE000).contains(scalar) {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &out)
            default:
                pos &-= 1
                throw error("invalid escape sequence '\\\(Character(Unicode.Scalar(e)))' in string")
            }
        }
        throw JSONDecodingError("unterminated string", offset: start)
    }

    private mutating func readHex4() throws(JSONDecodingError) -> UInt32 {
        guard pos + 4 <= base.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let n = Hex.nibble(base[pos])
            guard n != 0xFF else { throw error("invalid hex digit in \\u escape") }
            v = v << 4 | UInt32(n)
            pos &+= 1
        }
        return v
    }

    private func appendUTF8(_ s: UInt32, to out: inout [UInt8]) {
        switch s {
        case 0..<0x80:
            out.append(UInt8(s))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (s >> 6)))
            out.append(UInt8(0x80 | (s & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (s >> 12)))
            out.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (s & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (s >> 18)))
            out.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (s & 0x3F)))
        }
    }

    /// Reads a string token and returns its raw bytes when it holds no escapes (ids, numbers in
    /// quotes, base64), so callers can parse it without building a `String`.
    mutating func readRawStringBytes() throws(JSONDecodingError) -> UnsafeRawBufferPointer {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string, found \(describeCurrent())") }
        pos &+= 1
        guard let body = try plainStringBody(unterminated: "unterminated string") else { throw error("unexpected escape sequence in this value") }
        return body.raw
    }

    // MARK: numbers

    /// The span of a JSON number token starting at the current position (not consumed).
    mutating func numberToken() -> UnsafeRawBufferPointer {
        skipWhitespace()
        let start = pos
        var end = pos
        while end < base.count {
            let c = base[end]
            if (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                end &+= 1
            } else {
                break
            }
        }
        return UnsafeRawBufferPointer(rebasing: base[start..<end])
    }

    // MARK: skipping

    /// Skips one complete value of any type (unknown fields), within the depth bound.
    mutating func skipValue() throws(JSONDecodingError) {
        skipWhitespace()
        let c = peek()
        switch c {
        case UInt8(ascii: "{"):
            _ = try beginObject()
            var first = true
            while try nextKey(first: &first) != nil { try skipValue() }
        case UInt8(ascii: "["):
            _ = try beginArray()
            var first = true
            while try nextElement(first: &first) { try skipValue() }
        case UInt8(ascii: "\""):
            pos &+= 1
            while pos < base.count {
                let b = base[pos]
                if b == UInt8(ascii: "\"") { pos &+= 1; return }
                pos &+= b == UInt8(ascii: "\\") ? 2 : 1
            }
            throw error("unterminated string")
        case UInt8(ascii: "t"):
            guard consumeLiteral("true") else { throw error("invalid literal") }
        case UInt8(ascii: "f"):
            guard consumeLiteral("false") else { throw error("invalid literal") }
        case UInt8(ascii: "n"):
            guard consumeNull() else { throw error("invalid literal") }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let tok = numberToken()
            pos &+= tok.count
        default:
            throw error("expected a value, found \(describeCurrent())")
        }
    }
}
