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
    var ignoredKeyPatterns: [NSRegularExpressionBox] = []
    var blockedValues: [NSRegularExpressionBox] = []
    var allowedValues: [NSRegularExpressionBox] = []
    var blockedKeyPatterns: [NSRegularExpressionBox] = []
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
        func regexes(_ key: Keys) throws -> [NSRegularExpressionBox] {
            try (try c.value(key, or: [String]())).enumerated().map { i, p in
                do { return try NSRegularExpressionBox.re2(p) } catch {
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

    public init(config: RedactionConfig, next: any TraceConsumer) {
        self.config = config
        self.next = next
    }

    public func start(_ host: ComponentHost) async throws {}
    public func shutdown() async {}

    public func consume(_ data: TraceData) async throws {
        var out = data
        for r in out.resourceSpans.indices {
            redact(&out.resourceSpans[r].resource.attributes, summarize: true)
            for s in out.resourceSpans[r].scopeSpans.indices {
                for i in out.resourceSpans[r].scopeSpans[s].spans.indices {
                    redact(&out.resourceSpans[r].scopeSpans[s].spans[i].attributes, summarize: true)
                    for e in out.resourceSpans[r].scopeSpans[s].spans[i].events.indices {
                        redact(&out.resourceSpans[r].scopeSpans[s].spans[i].events[e].attributes, summarize: false)
                    }
                    for l in out.resourceSpans[r].scopeSpans[s].spans[i].links.indices {
                        redact(&out.resourceSpans[r].scopeSpans[s].spans[i].links[l].attributes, summarize: false)
                    }
                }
            }
        }
        try await next.consume(out)
    }

    /// Scrubs one attribute list in place and appends the summary attributes.
    func redact(_ attrs: inout [KeyValue], summarize: Bool) {
        var redacted: [String] = []
        var masked: [String] = []
        var allowed: [String] = []
        var ignored = 0
        for i in attrs.indices {
            let key = attrs[i].key
            if config.ignoredKeys.contains(key) || config.ignoredKeyPatterns.contains(where: { $0.matches(key) }) {
                ignored += 1
                continue
            }
            if !config.allowAllKeys && !config.allowedKeys.contains(key) {
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
            if config.blockedKeyPatterns.contains(where: { $0.matches(key) }) {
                attrs[i].value = .string(replacement(for: text))
                masked.append(key)
            } else if config.allowedValues.contains(where: { $0.matches(text) }) {
                allowed.append(key)
            } else {
                let scrubbed = maskMatches(text)
                if scrubbed != text {
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

    /// Every match of every blocked value pattern replaced by the mask (or its hash).
    func maskMatches(_ text: String) -> String {
        var result = text
        for re in config.blockedValues {
            let ns = result as NSString
            let matches = re.regex.matches(in: result, range: NSRange(location: 0, length: ns.length))
            guard !matches.isEmpty else { continue }
            var rebuilt = ""
            var last = 0
            for m in matches {
                rebuilt += ns.substring(with: NSRange(location: last, length: m.range.location - last))
                rebuilt += replacement(for: ns.substring(with: m.range))
                last = m.range.location + m.range.length
            }
            rebuilt += ns.substring(from: last)
            result = rebuilt
        }
        if config.maskCardNumbers { result = maskLuhnNumbers(result) }
        return result
    }

    static let digitRun = try! NSRegularExpression(pattern: #"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])"#)

    /// Masks digit runs of card-number length whose digits pass the Luhn check.
    func maskLuhnNumbers(_ text: String) -> String {
        let ns = text as NSString
        let matches = Self.digitRun.matches(in: text, range: NSRange(location: 0, length: ns.length))
        guard !matches.isEmpty else { return text }
        var out = ""
        var last = 0
        for m in matches {
            let candidate = ns.substring(with: m.range)
            out += ns.substring(with: NSRange(location: last, length: m.range.location - last))
            out += Self.luhnValid(candidate) ? replacement(for: candidate) : candidate
            last = m.range.location + m.range.length
        }
        return out + ns.substring(from: last)
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
