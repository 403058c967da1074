import Foundation
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
                do { return try RegexPattern.re2(p) } catch {
                    throw decoder.invalid(key.rawValue, "[\(i)] invalid regular expression \"\(p)\"")
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

public final class RedactionProcessor: Processor {
    let config: RedactionConfig
    let next: any TraceConsumer
    static let mask = "****"
    /// What each attribute key is (ignored, redacted, blocked by pattern): keys repeat in every
    /// span, so their regexes run once per key, not once per attribute.
    /// What an attribute key is for this processor.
    enum KeyVerdict: Sendable { case ignored, redacted, blockedKey, checkValue }
    private let keyVerdicts = KeyCache<KeyVerdict>()

    public init(config: RedactionConfig, next: any TraceConsumer) {
        self.config = config
        self.next = next
    }

    public func start(_ host: ComponentHost) async throws {}
    public func shutdown() async {}

    public func consume(_ data: consuming TraceData) async throws {
        var out = data
        var memo = KeyMemo<KeyVerdict>()
        for r in out.resourceSpans.indices {
            redact(&out.resourceSpans[r].resource.attributes, summarize: true, memo: &memo)
            for s in out.resourceSpans[r].scopeSpans.indices {
                for i in out.resourceSpans[r].scopeSpans[s].spans.indices {
                    redact(&out.resourceSpans[r].scopeSpans[s].spans[i].attributes, summarize: true, memo: &memo)
                    for e in out.resourceSpans[r].scopeSpans[s].spans[i].events.indices {
                        redact(&out.resourceSpans[r].scopeSpans[s].spans[i].events[e].attributes, summarize: false, memo: &memo)
                    }
                    for l in out.resourceSpans[r].scopeSpans[s].spans[i].links.indices {
                        redact(&out.resourceSpans[r].scopeSpans[s].spans[i].links[l].attributes, summarize: false, memo: &memo)
                    }
                }
            }
        }
        try await next.consume(out)
    }

    /// Scrubs one attribute list in place and appends the summary attributes.
    func redact(_ attrs: inout [KeyValue], summarize: Bool, memo: inout KeyMemo<KeyVerdict>) {
        var redacted: [String] = []
        var masked: [String] = []
        var allowed: [String] = []
        var ignored = 0
        for i in attrs.indices {
            let key = attrs[i].key
            let verdict = memo.value(for: key) {
                keyVerdicts.value(for: key) {
                    if config.ignoredKeys.contains(key) || config.ignoredKeyPatterns.contains(where: { $0.matches(key) }) { return .ignored }
                    if !config.allowAllKeys && !config.allowedKeys.contains(key) { return .redacted }
                    return config.blockedKeyPatterns.contains(where: { $0.matches(key) }) ? .blockedKey : .checkValue
                }
            }
            if verdict == .ignored {
                ignored += 1
                continue
            }
            if verdict == .redacted {
                redacted.append(key)
                continue
            }
            let text: String
            switch attrs[i].value {
            case .string(let s): text = s
            default:
                // Only strings are checked, unless redact_all_types asks for every type's text form.
                guard config.redactAllTypes else { continue }
                text = AttributeActionRunner.asString(attrs[i].value)
            }
            if verdict == .blockedKey {
                attrs[i].value = .string(replacement(for: text))
                masked.append(key)
            } else if config.allowedValues.contains(where: { $0.matches(text) }) {
                allowed.append(key)
            } else {
                if let scrubbed = maskMatches(text) {
                    attrs[i].value = .string(scrubbed)
                    masked.append(key)
                }
            }
        }
        // Removed key by key in sorted order, each by moving the last attribute into its slot:
        // the order the collector's redaction leaves attributes in.
        for key in Set(redacted).sorted() {
            AttributeActionRunner.swapRemove(&attrs) { $0.key == key }
        }
        guard summarize, config.summary != .silent else { return }
        let debug = config.summary == .debug
        func add(_ name: String, _ keys: [String]) {
            guard !keys.isEmpty else { return }
            if debug { attrs.append(KeyValue("redaction.\(name).keys", .string(keys.sorted().joined(separator: ",")))) }
            attrs.append(KeyValue("redaction.\(name).count", .int(Int64(keys.count))))
        }
        add("redacted", redacted)
        add("masked", masked)
        add("allowed", allowed)
        if ignored > 0 { attrs.append(KeyValue("redaction.ignored.count", .int(Int64(ignored)))) }
    }

    /// Every match of every blocked value pattern replaced by the mask (or its hash); nil when
    /// nothing matched.
    func maskMatches(_ text: String) -> String? {
        // One look at the bytes first: in most values no pattern's literals and too few digits
        // for a card number, and then nothing else runs.
        let patterns = config.blockedValues
        let (candidates, digits) = RegexPattern.withUTF8(text) { h -> (UInt64, Int) in
            var mask: UInt64 = 0
            for (k, re) in patterns.enumerated() where k >= 64 || re.mayMatch(utf8: h) { mask |= k < 64 ? 1 << UInt64(k) : 0 }
            var d = 0
            if config.maskCardNumbers { for b in h where b &- 0x30 < 10 { d += 1 } }
            return (mask, d)
        }
        guard candidates != 0 || patterns.count > 64 || digits >= 13 else { return nil }
        var result = text
        var changed = false
        for (k, re) in patterns.enumerated() {
            // The first look holds while the text is unchanged; a replacement (a hash) may give
            // a later pattern something to match, so then it looks again.
            guard changed ? re.mayMatch(result) : (k >= 64 || candidates & (1 << UInt64(k)) != 0) else { continue }
            let matches = re.allMatches(in: result)
            guard !matches.isEmpty else { continue }
            let bytes = Array(result.utf8)
            var rebuilt: [UInt8] = []
            rebuilt.reserveCapacity(bytes.count)
            var last = 0
            for m in matches {
                // A group named `secret` narrows what is masked (tracepipe): the rest of the match
                // is context, like `password=` before the value.
                var r = m.whole
                if re.hasSecretGroup, let g = m.group("secret") { r = g }
                guard r.lowerBound >= last else { continue }
                rebuilt += bytes[last..<r.lowerBound]
                rebuilt += replacement(for: String(decoding: bytes[r], as: UTF8.self)).utf8
                last = r.upperBound
            }
            rebuilt += bytes[last...]
            result = String(decoding: rebuilt, as: UTF8.self)
            changed = true
        }
        if config.maskCardNumbers && (changed || digits >= 13), let masked = maskLuhnNumbers(result) {
            result = masked
            changed = true
        }
        return changed ? result : nil
    }

    /// Masks digit runs of card-number length (13–19 digits, single spaces or dashes allowed
    /// between them, not touching other digits) whose digits pass the Luhn check. A byte scan,
    /// no regex: it runs on every string value. nil when nothing was masked.
    func maskLuhnNumbers(_ text: String) -> String? {
        // Most values have too few digits to hold a card number: count them without copying.
        let digits = RegexPattern.withUTF8(text) { h in
            var d = 0
            for b in h where b &- 0x30 < 10 { d += 1 }
            return d
        }
        guard digits >= 13 else { return nil }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var copied = 0
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
            let candidate = String(decoding: bytes[i..<lastDigitEnd], as: UTF8.self)
            if (13...19).contains(count) && Self.luhnValid(candidate) {
                out.append(contentsOf: bytes[copied..<i])
                out.append(contentsOf: replacement(for: candidate).utf8)
                copied = lastDigitEnd
            }
            i = lastDigitEnd
        }
        guard copied > 0 else { return nil }
        out.append(contentsOf: bytes[copied...])
        return String(decoding: out, as: UTF8.self)
    }

    static func luhnValid(_ s: String) -> Bool {
        let digits = s.compactMap(\.wholeNumberValue)
        guard (13...19).contains(digits.count) else { return false }
        var sum = 0
        for (i, d) in digits.reversed().enumerated() {
            if i % 2 == 1 {
                let x = d * 2
                sum += x > 9 ? x - 9 : x
            } else {
                sum += d
            }
        }
        return sum % 10 == 0
    }

    func replacement(for secret: String) -> String {
        guard let h = config.hashFunction else { return Self.mask }
        let bytes = Array(secret.utf8)
        switch h {
        case .md5: return Digest.hex(Digest.md5(bytes))
        case .sha1: return Digest.hex(Digest.sha1(bytes))
        case .sha3: return Digest.hex(Digest.sha3_256(bytes))
        }
    }
}
