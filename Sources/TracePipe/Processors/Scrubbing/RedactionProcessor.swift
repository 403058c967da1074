import FoundationEssentials
import TraceModel

/// `processors.redaction`: keeps only allowed attribute keys, masks sensitive values
/// (`blocked_values` matches become `****`, or their hash), and reports what it did in
/// `redaction.*` summary attributes. Resource, span, event and link attributes are all scrubbed;
/// the summary goes on spans and resources.
public struct RedactionConfig: Decodable, Sendable {
    public enum Summary: String, ConfigEnum { case debug, info, silent }
    public enum HashFunction: String, ConfigEnum { case md5, sha1, sha3 }

    var allowAllKeys = false
    var allowedKeys: Set<String> = []
    var ignoredKeys: Set<String> = []
    var ignoredKeyPatterns: [RegexPattern] = []
    var blockedValues: [RegexPattern] = []
    var allowedValues: [RegexPattern] = []
    var blockedKeyPatterns: [RegexPattern] = []
    var redactAllTypes = false
    var hashFunction: HashFunction?
    var summary = Summary.silent
    /// tracepipe: mask 13–19 digit runs (spaces or dashes allowed) that pass the Luhn check —
    /// card numbers, without the false positives a plain digit regex has on order ids.
    var maskCardNumbers = false

    enum Keys: String, CodingKey {
        case allow_all_keys, allowed_keys, ignored_keys, ignored_key_patterns, blocked_values, allowed_values
        case blocked_key_patterns, redact_all_types, hash_function, summary, url_sanitizer, db_sanitizer
        case mask_card_numbers
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        allowAllKeys = try c.value(.allow_all_keys, or: false)
        allowedKeys = Set(try c.value(.allowed_keys, or: [String]()))
        ignoredKeys = Set(try c.value(.ignored_keys, or: [String]()))
        func regexes(_ key: Keys) throws -> [RegexPattern] {
            try (try c.value(key, or: [String]())).enumerated().map { i, p in
                do { return try RegexPattern(p) } catch {
                    throw decoder.invalid(key.rawValue, "[\(i)] \(error)")
                }
            }
        }
        ignoredKeyPatterns = try regexes(.ignored_key_patterns)
        blockedValues = try regexes(.blocked_values)
        allowedValues = try regexes(.allowed_values)
        blockedKeyPatterns = try regexes(.blocked_key_patterns)
        redactAllTypes = try c.value(.redact_all_types, or: false)
        if let h = try c.decodeIfPresent(String.self, forKey: .hash_function), !h.isEmpty {
            guard let f = HashFunction(rawValue: h.lowercased()) else {
                throw decoder.invalid("hash_function", "expected md5, sha1 or sha3, got \"\(h)\"" + (h.hasPrefix("hmac") ? " (HMAC variants are not supported)" : ""))
            }
            hashFunction = f
        }
        if let s = try c.decodeIfPresent(String.self, forKey: .summary), !s.isEmpty {
            guard let v = Summary(rawValue: s.lowercased()) else { throw decoder.invalid("summary", "expected debug, info or silent, got \"\(s)\"") }
            summary = v
        }
        maskCardNumbers = try c.value(.mask_card_numbers, or: false)
        for k in [Keys.url_sanitizer, .db_sanitizer] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "not supported yet by tracepipe's redaction processor")
        }
    }
}

public struct RedactionProcessor: SpanProcessing, BuiltFromConfig {
    let config: RedactionConfig
    static let mask = "****"
    /// What an attribute key is for this processor.
    enum KeyVerdict: Sendable { case ignored, redacted, blockedKey, checkValue }
    /// What each attribute key is (ignored, redacted, blocked by pattern): keys repeat in every
    /// span, so their regexes run once per key, not once per attribute.
    private let keyVerdicts = KeyCache<KeyVerdict>()
    /// The blocked value patterns' literal pre-check.
    let prefilter: LiteralPrefilter
    /// Whether `allowed_values` has patterns: read per value, so kept as a plain flag (touching
    /// the array costs a reference count).
    let hasAllowedValues: Bool

    public init(config: RedactionConfig) {
        self.config = config
        prefilter = LiteralPrefilter(config.blockedValues)
        hasAllowedValues = !config.allowedValues.isEmpty
    }

    /// Working memory of one request's scrubbing: key verdicts seen in it, and the regex
    /// engine's and the rebuild's buffers, reused from one value to the next.
    struct Scratch {
        var memo = KeyMemo<KeyVerdict>()
        /// String values found to need nothing (no allowed or blocked pattern matched). They
        /// stay in the request, unchanged, for as long as the scratch lives (see the memo).
        var cleanValues = CleanValueMemo()
        var search = ByteRegex.Search()
        var ranges: [Range<Int>] = []
    }

    /// Resource and span attributes get the `redaction.*` summaries; events' and links' are
    /// redacted without. Scope attributes are left alone, as the collector's processor does.
    public func process(_ data: inout TraceData) throws {
        var scratch = Scratch()
        data.forEachAttributeList { attributes, owner in
            switch owner {
            case .resource, .span: redact(&attributes, summarize: true, scratch: &scratch)
            case .event, .link: redact(&attributes, summarize: false, scratch: &scratch)
            case .scope: break
            }
        }
    }

    /// What `key` is for this processor (from the processor-wide cache; the regexes run once per key).
    private func keyVerdict(for key: String) -> KeyVerdict {
        keyVerdicts.value(for: key) {
            if config.ignoredKeys.contains(key) || config.ignoredKeyPatterns.contains(where: { $0.matches(key) }) { return .ignored }
            if !config.allowAllKeys && !config.allowedKeys.contains(key) { return .redacted }
            return config.blockedKeyPatterns.contains(where: { $0.matches(key) }) ? .blockedKey : .checkValue
        }
    }

    /// Scrubs one attribute list in place and appends the summary attributes.
    func redact(_ attrs: inout [KeyValue], summarize: Bool, scratch: inout Scratch) {
        // Key lists are only kept for the debug summary (and the redacted keys, to remove them);
        // otherwise counts do.
        let debug = summarize && config.summary == .debug
        var redacted: [String] = []
        var masked: [String] = []
        var allowed: [String] = []
        var maskedCount = 0, allowedCount = 0, ignored = 0
        // Through a pointer: keys and values are read in place, not copied out (a copy is a
        // retain and a release per string, for every attribute of every span).
        attrs.withUnsafeMutableBufferPointer { p in
            for i in p.indices {
                let verdict = scratch.memo.value(for: p[i].key) { keyVerdict(for: p[i].key) }
                switch verdict {
                case .ignored:
                    ignored += 1
                    continue
                case .redacted:
                    redacted.append(p[i].key)
                    continue
                case .blockedKey, .checkValue:
                    break
                }
                switch examine(p[i].value, verdict: verdict, scratch: &scratch) {
                case .unchanged:
                    break
                case .masked(let replacement):
                    p[i].value = .string(replacement)
                    maskedCount += 1
                    if debug { masked.append(p[i].key) }
                case .allowed:
                    allowedCount += 1
                    if debug { allowed.append(p[i].key) }
                }
            }
        }
        // Removed key by key in sorted order, each by moving the last attribute into its slot:
        // the order the collector's redaction leaves attributes in.
        if !redacted.isEmpty {
            for key in Set(redacted).sorted() {
                AttributeActionRunner.swapRemove(&attrs) { $0.key == key }
            }
        }
        guard summarize, config.summary != .silent else { return }
        // Literal names: no string is built per span.
        if !redacted.isEmpty {
            if debug { attrs.append(KeyValue("redaction.redacted.keys", .string(redacted.sorted().joined(separator: ",")))) }
            attrs.append(KeyValue("redaction.redacted.count", .int(Int64(redacted.count))))
        }
        if maskedCount > 0 {
            if debug { attrs.append(KeyValue("redaction.masked.keys", .string(masked.sorted().joined(separator: ",")))) }
            attrs.append(KeyValue("redaction.masked.count", .int(Int64(maskedCount))))
        }
        if allowedCount > 0 {
            if debug { attrs.append(KeyValue("redaction.allowed.keys", .string(allowed.sorted().joined(separator: ",")))) }
            attrs.append(KeyValue("redaction.allowed.count", .int(Int64(allowedCount))))
        }
        if ignored > 0 { attrs.append(KeyValue("redaction.ignored.count", .int(Int64(ignored)))) }
    }

    enum ValueOutcome { case unchanged, masked(String), allowed }

    /// What becomes of one value of a key that is not ignored or redacted. A separate function
    /// so that the value is borrowed from the attribute list, not copied out of it.
    @inline(__always)
    private func examine(_ value: AnyValue, verdict: KeyVerdict, scratch: inout Scratch) -> ValueOutcome {
        switch value {
        case .string(let s):
            if verdict == .checkValue && scratch.cleanValues.contains(s) { return .unchanged }
            return examine(text: s, isString: true, verdict: verdict, scratch: &scratch)
        default:
            // Only strings are checked, unless redact_all_types asks for every type's text form.
            guard config.redactAllTypes else { return .unchanged }
            return examine(text: AttributeActionRunner.asString(value), isString: false, verdict: verdict, scratch: &scratch)
        }
    }

    private func examine(text: String, isString: Bool, verdict: KeyVerdict, scratch: inout Scratch) -> ValueOutcome {
        if verdict == .blockedKey { return .masked(replacement(for: text)) }
        if hasAllowedValues && config.allowedValues.contains(where: { $0.matches(text) }) { return .allowed }
        if let scrubbed = maskMatches(text, scratch: &scratch) { return .masked(scrubbed) }
        // Only a value that stays in the request may be remembered (see the memo).
        if isString { scratch.cleanValues.insert(text) }
        return .unchanged
    }

    /// Every match of every blocked value pattern replaced by the mask (or its hash); nil when
    /// nothing matched.
    func maskMatches(_ text: String, scratch: inout Scratch) -> String? {
        // One look at the bytes first: in most values no pattern's literals and too few digits
        // for a card number, and then nothing else runs.
        let cards = config.maskCardNumbers
        let (candidates, digits) = RegexPattern.withUTF8(text) { h in (prefilter.candidates(h), cards ? Self.digitCount(h) : 0) }
        guard candidates != 0 || prefilter.patternCount > 64 || digits >= 13 else { return nil }
        // Until a pattern replaces something, the text is read where it is (no copy of it, and
        // none of the patterns, is made).
        var result: String? = nil
        config.blockedValues.withUnsafeBufferPointer { patterns in
            for k in patterns.indices {
                // The first look holds while the text is unchanged; a replacement (a hash) may
                // give a later pattern something to match, so then it looks again.
                let rebuilt: String?
                if let changed = result {
                    guard patterns[k].mayMatch(changed) else { continue }
                    rebuilt = mask(patterns[k], in: changed, scratch: &scratch)
                } else {
                    guard k >= 64 || candidates & (1 << UInt64(k)) != 0 else { continue }
                    rebuilt = mask(patterns[k], in: text, scratch: &scratch)
                }
                if let rebuilt { result = rebuilt }
            }
        }
        // Unchanged text was counted above; a replacement may have changed its digits.
        if cards && (result != nil || digits >= 13),
           let masked = maskLuhnNumbers(result ?? text, digitsCounted: result == nil, scratch: &scratch) {
            result = masked
        }
        return result
    }

    /// `text` with every match of `re` masked; nil when it has none.
    private func mask(_ re: RegexPattern, in text: String, scratch: inout Scratch) -> String? {
        RegexPattern.withUTF8(text) { h -> String? in
            scratch.ranges.removeAll(keepingCapacity: true)
            re.appendMaskRanges(utf8: h, search: &scratch.search, to: &scratch.ranges)
            return scratch.ranges.isEmpty ? nil : rebuild(h, masking: scratch.ranges)
        }
    }

    /// ASCII digits in `h`, eight bytes at a time: a byte's high bit is set by adding 0x50 to
    /// its low seven bits when it is at least "0", by adding 0x46 when it is above "9". The
    /// per-byte hits are summed in byte lanes and added up once per 255 words (a lane cannot
    /// overflow before): a population count per word is slow without the POPCNT instruction,
    /// which the baseline x86-64 target does not assume.
    @inline(__always)
    static func digitCount(_ h: UnsafeBufferPointer<UInt8>) -> Int {
        let n = h.count
        guard let base = h.baseAddress else { return 0 }
        var d = 0, i = 0
        while i &+ 8 <= n {
            var lanes: UInt64 = 0
            var words = 0
            while i &+ 8 <= n && words < 255 {
                let x = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                let low = x & 0x7F7F_7F7F_7F7F_7F7F
                let atLeast0 = low &+ 0x5050_5050_5050_5050
                let above9 = low &+ 0x4646_4646_4646_4646
                lanes &+= (atLeast0 & ~above9 & ~x & 0x8080_8080_8080_8080) >> 7
                i &+= 8
                words &+= 1
            }
            // Sum the eight byte lanes (each at most 255) in 16-bit lanes, then all four.
            let pairs = (lanes & 0x00FF_00FF_00FF_00FF) &+ ((lanes >> 8) & 0x00FF_00FF_00FF_00FF)
            d &+= Int(truncatingIfNeeded: (pairs &* 0x0001_0001_0001_0001) >> 48)
        }
        while i < n {
            if base[i] &- 0x30 < 10 { d &+= 1 }
            i &+= 1
        }
        return d
    }

    /// `text` with each range replaced by the mask (or the hash of what it covers), in one
    /// allocation. Ranges are in ascending order; one that starts inside the previous (a
    /// `secret` group of an earlier match) is left alone.
    func rebuild(_ text: UnsafeBufferPointer<UInt8>, masking ranges: [Range<Int>]) -> String {
        let each = replacementLength
        var length = 0, last = 0
        for r in ranges where r.lowerBound >= last {
            length += r.lowerBound - last + each
            last = r.upperBound
        }
        length += text.count - last
        return String(unsafeUninitializedCapacity: length) { out in
            guard let o = out.baseAddress else { return 0 }
            var at = 0
            last = 0
            // The text may be empty (an empty match of an empty value): then it has no address,
            // and only the replacement is written.
            func copy(_ from: Int, _ to: Int) {
                guard to > from, let base = text.baseAddress else { return }
                (o + at).update(from: base + from, count: to - from)
                at += to - from
            }
            for r in ranges where r.lowerBound >= last {
                copy(last, r.lowerBound)
                writeReplacement(of: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(text)[r]), to: o + at)
                at += each
                last = r.upperBound
            }
            copy(last, text.count)
            return at
        }
    }

    /// Masks digit runs of card-number length (13–19 digits, single spaces or dashes allowed
    /// between them, not touching other digits) whose digits pass the Luhn check. A byte scan,
    /// no regex: it runs on every string value. nil when nothing was masked. `digitsCounted`:
    /// the caller already found at least 13 digits in `text`.
    func maskLuhnNumbers(_ text: String, digitsCounted: Bool, scratch: inout Scratch) -> String? {
        RegexPattern.withUTF8(text) { bytes -> String? in
            // Most values have too few digits to hold a card number.
            guard digitsCounted || Self.digitCount(bytes) >= 13 else { return nil }
            scratch.ranges.removeAll(keepingCapacity: true)
            var i = 0
            let n = bytes.count
            while i < n {
                guard bytes[i] &- 0x30 < 10, i == 0 || bytes[i - 1] &- 0x30 >= 10 else {
                    i += 1
                    continue
                }
                // A run starting at a digit: digits, each optionally preceded by one separator.
                var j = i + 1
                var count = 1
                var lastDigitEnd = j
                while j < n {
                    if bytes[j] &- 0x30 < 10 {
                        count += 1
                        j += 1
                        lastDigitEnd = j
                    } else if (bytes[j] == 0x20 || bytes[j] == 0x2D), j + 1 < n, bytes[j + 1] &- 0x30 < 10 {
                        j += 1
                    } else {
                        break
                    }
                }
                if (13...19).contains(count) && Self.luhnValid(UnsafeBufferPointer(rebasing: bytes[i..<lastDigitEnd])) {
                    scratch.ranges.append(i..<lastDigitEnd)
                }
                i = lastDigitEnd
            }
            return scratch.ranges.isEmpty ? nil : rebuild(bytes, masking: scratch.ranges)
        }
    }

    static func luhnValid(_ s: String) -> Bool {
        RegexPattern.withUTF8(s) { luhnValid($0) }
    }

    /// The Luhn check over the digits of `run` (other bytes, the separators, are skipped).
    static func luhnValid(_ run: UnsafeBufferPointer<UInt8>) -> Bool {
        var sum = 0, count = 0
        for b in run.reversed() {
            let d = Int(b &- 0x30)
            guard d < 10 else { continue }
            if count % 2 == 1 {
                let x = d * 2
                sum += x > 9 ? x - 9 : x
            } else {
                sum += d
            }
            count += 1
        }
        return (13...19).contains(count) && sum % 10 == 0
    }

    /// Bytes of one replacement: the mask, or the hex digest.
    var replacementLength: Int { digestKind.map { 2 * $0.length } ?? Self.mask.utf8.count }

    var digestKind: Digest.Kind? {
        switch config.hashFunction {
        case nil: nil
        case .md5: .md5
        case .sha1: .sha1
        case .sha3: .sha3_256
        }
    }

    /// Writes the replacement of `secret` (`replacementLength` bytes) at `out`.
    func writeReplacement(of secret: UnsafeRawBufferPointer, to out: UnsafeMutablePointer<UInt8>) {
        guard let kind = digestKind else {
            for (i, b) in Self.mask.utf8.enumerated() { out[i] = b }
            return
        }
        Digest.writeHexDigest(kind, of: secret, to: out)
    }

    func replacement(for secret: String) -> String {
        guard let kind = digestKind else { return Self.mask }
        return Digest.hex(kind, of: secret)
    }
}
