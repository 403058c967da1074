import FoundationEssentials

/// `processors.tail_sampling`: its settings and policies, decoded with the collector's keys.
public struct TailSamplingConfig: Decodable, Sendable {
    public var decisionWait = ConfigDuration.seconds(30)
    public var decisionWaitAfterRoot = ConfigDuration(nanoseconds: 0)
    public var numTraces = 50_000
    public var sampledCacheSize = 0
    public var nonSampledCacheSize = 0
    public var sampleOnFirstMatch = false
    public var dropPendingOnShutdown = false
    public var policies: [NamedPolicy] = []

    public struct NamedPolicy: Sendable {
        public var name: String
        public var type: String
        public var policy: any SamplingPolicy
    }

    enum Keys: String, CodingKey {
        case policies, decision_wait, decision_wait_after_root_received, num_traces, expected_new_traces_per_sec, decision_cache
        case sample_on_first_match, drop_pending_traces_on_shutdown, block_on_overflow, maximum_trace_size_bytes
        case sampling_strategy, num_shards, tail_storage
    }

    enum CacheKeys: String, CodingKey { case sampled_cache_size, non_sampled_cache_size }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        decisionWait = try c.value(.decision_wait, or: decisionWait)
        guard decisionWait.nanoseconds > 0 else { throw decoder.invalid("decision_wait", "must be greater than zero") }
        decisionWaitAfterRoot = try c.value(.decision_wait_after_root_received, or: decisionWaitAfterRoot)
        numTraces = try c.value(.num_traces, or: 50_000)
        guard numTraces > 0 else { throw decoder.invalid("num_traces", "must be greater than zero") }
        _ = try c.decodeIfPresent(Int.self, forKey: .expected_new_traces_per_sec)
        if c.contains(.decision_cache) {
            let dc = try c.nestedContainer(keyedBy: CacheKeys.self, forKey: .decision_cache)
            sampledCacheSize = try dc.value(.sampled_cache_size, or: 0)
            nonSampledCacheSize = try dc.value(.non_sampled_cache_size, or: 0)
        }
        sampleOnFirstMatch = try c.value(.sample_on_first_match, or: false)
        dropPendingOnShutdown = try c.value(.drop_pending_traces_on_shutdown, or: false)
        if let s = try c.decodeIfPresent(String.self, forKey: .sampling_strategy), s != "trace-complete" {
            decoder.reportUnsupported("sampling_strategy", "only the trace-complete strategy is supported")
        }
        for k in [Keys.block_on_overflow, .maximum_trace_size_bytes, .num_shards, .tail_storage] where c.contains(k) {
            decoder.reportUnsupported(k.rawValue, "not supported yet by tracepipe's tail_sampling")
        }
        guard c.contains(.policies) else { throw decoder.invalid("policies", "required: at least one sampling policy") }
        let list = try c.superDecoder(forKey: .policies)
        var u = try list.unkeyedContainer()
        var names = Set<String>()
        while !u.isAtEnd {
            let d = try u.superDecoder()
            let p = try PolicyDecoding.named(d, allowCompositeLike: true)
            guard names.insert(p.name).inserted else { throw d.invalid("name", "duplicate policy name \"\(p.name)\"") }
            policies.append(p)
        }
        guard !policies.isEmpty else { throw decoder.invalid("policies", "at least one sampling policy is required") }
    }
}

/// Reads one policy (`name`, `type` and the section named after the type).
enum PolicyDecoding {
    enum Keys: String, CodingKey {
        case name, type
        case latency, numeric_attribute, probabilistic, status_code, string_attribute, rate_limiting, bytes_limiting
        case span_count, boolean_attribute, trace_state, trace_flags, ottl_condition, and, not, drop, composite, always_sample
    }

    static func named(_ d: any Decoder, allowCompositeLike: Bool) throws -> TailSamplingConfig.NamedPolicy {
        let c = try d.container(keyedBy: Keys.self)
        let name = try c.value(.name, or: "")
        guard !name.isEmpty else { throw d.invalid("name", "required: every policy needs a name") }
        let type = try c.value(.type, or: "")
        guard !type.isEmpty else { throw d.invalid("type", "required: the policy type (e.g. status_code, latency, probabilistic)") }
        // The other types' sections may be present (copied configs); only the own one is read.
        for k in [Keys.latency, .numeric_attribute, .probabilistic, .status_code, .string_attribute, .rate_limiting, .bytes_limiting,
                  .span_count, .boolean_attribute, .trace_state, .trace_flags, .ottl_condition, .and, .not, .drop, .composite, .always_sample]
            where k.rawValue != type {
            _ = c.contains(k)
        }
        return .init(name: name, type: type, policy: try policy(type: type, c, d, allowCompositeLike: allowCompositeLike))
    }

    static func section(_ c: KeyedDecodingContainer<Keys>, _ key: Keys) throws -> any Decoder {
        try c.superDecoder(forKey: key)
    }

    static func policy(type: String, _ c: KeyedDecodingContainer<Keys>, _ d: any Decoder, allowCompositeLike: Bool) throws -> any SamplingPolicy {
        switch type {
        case "always_sample":
            return AlwaysSamplePolicy()
        case "latency":
            let s = try section(c, .latency)
            let k = try s.container(keyedBy: AnyKey.self)
            let threshold = try k.value(AnyKey("threshold_ms"), or: Int64(0))
            let upper = try k.value(AnyKey("upper_threshold_ms"), or: Int64(0))
            if upper != 0 && upper < threshold { throw s.invalid("upper_threshold_ms", "must be greater than threshold_ms (\(threshold))") }
            return LatencyPolicy(thresholdMs: threshold, upperThresholdMs: upper)
        case "numeric_attribute":
            let s = try section(c, .numeric_attribute)
            let k = try s.container(keyedBy: AnyKey.self)
            let key = try k.value(AnyKey("key"), or: "")
            guard !key.isEmpty else { throw s.invalid("key", "required") }
            let minV = try k.decodeIfPresent(Int64.self, forKey: AnyKey("min_value"))
            let maxV = try k.decodeIfPresent(Int64.self, forKey: AnyKey("max_value"))
            guard minV != nil || maxV != nil else { throw s.invalid("set min_value, max_value or both") }
            return NumericAttributePolicy(key: key, min: minV, max: maxV, invert: try k.value(AnyKey("invert_match"), or: false))
        case "probabilistic":
            let s = try section(c, .probabilistic)
            let k = try s.container(keyedBy: AnyKey.self)
            let pct = try k.value(AnyKey("sampling_percentage"), or: 0.0)
            guard pct >= 0 else { throw s.invalid("sampling_percentage", "must not be negative") }
            return ProbabilisticPolicy(salt: try k.value(AnyKey("hash_salt"), or: ""), percentage: pct)
        case "status_code":
            let s = try section(c, .status_code)
            let k = try s.container(keyedBy: AnyKey.self)
            let names: [String] = try k.value(AnyKey("status_codes"), or: [])
            guard !names.isEmpty else { throw s.invalid("status_codes", "must list at least one of OK, ERROR, UNSET") }
            var codes = Set<Int32>()
            for n in names {
                switch n {
                case "OK": codes.insert(1)
                case "ERROR": codes.insert(2)
                case "UNSET": codes.insert(0)
                default: throw s.invalid("status_codes", "unknown status code \"\(n)\" (expected OK, ERROR or UNSET)")
                }
            }
            return StatusCodePolicy(codes: codes)
        case "string_attribute":
            let s = try section(c, .string_attribute)
            let k = try s.container(keyedBy: AnyKey.self)
            let key = try k.value(AnyKey("key"), or: "")
            guard !key.isEmpty else { throw s.invalid("key", "required") }
            let values: [String] = try k.value(AnyKey("values"), or: [])
            let regex = try k.value(AnyKey("enabled_regex_matching"), or: false)
            _ = try k.decodeIfPresent(Int.self, forKey: AnyKey("cache_max_size"))
            var compiled: [RegexPattern] = []
            if regex {
                for v in values {
                    do { compiled.append(try RegexPattern(v)) } catch {
                        throw s.invalid("values", "\(error)")
                    }
                }
            }
            return StringAttributePolicy(key: key, values: Set(values), regexes: compiled, invert: try k.value(AnyKey("invert_match"), or: false))
        case "boolean_attribute":
            let s = try section(c, .boolean_attribute)
            let k = try s.container(keyedBy: AnyKey.self)
            let key = try k.value(AnyKey("key"), or: "")
            guard !key.isEmpty else { throw s.invalid("key", "required") }
            return BooleanAttributePolicy(key: key, value: try k.value(AnyKey("value"), or: false), invert: try k.value(AnyKey("invert_match"), or: false))
        case "rate_limiting":
            let s = try section(c, .rate_limiting)
            let k = try s.container(keyedBy: AnyKey.self)
            let rate = try k.value(AnyKey("spans_per_second"), or: Int64(0))
            guard rate > 0 else { throw s.invalid("spans_per_second", "must be greater than zero") }
            return RateLimitingPolicy(spansPerSecond: rate, burst: try k.decodeIfPresent(Int64.self, forKey: AnyKey("burst_capacity")))
        case "bytes_limiting":
            let s = try section(c, .bytes_limiting)
            let k = try s.container(keyedBy: AnyKey.self)
            let rate = try k.value(AnyKey("bytes_per_second"), or: Int64(0))
            guard rate > 0 else { throw s.invalid("bytes_per_second", "required and greater than zero") }
            return BytesLimitingPolicy(bytesPerSecond: rate, burst: try k.decodeIfPresent(Int64.self, forKey: AnyKey("burst_capacity")))
        case "span_count":
            let s = try section(c, .span_count)
            let k = try s.container(keyedBy: AnyKey.self)
            let minS = try k.value(AnyKey("min_spans"), or: 0)
            let maxS = try k.value(AnyKey("max_spans"), or: 0)
            if maxS != 0 && maxS < minS { throw s.invalid("max_spans", "must be at least min_spans (\(minS))") }
            return SpanCountPolicy(minSpans: minS, maxSpans: maxS)
        case "trace_state":
            let s = try section(c, .trace_state)
            let k = try s.container(keyedBy: AnyKey.self)
            let key = try k.value(AnyKey("key"), or: "")
            guard !key.isEmpty else { throw s.invalid("key", "required") }
            return TraceStatePolicy(key: key, values: Set(try k.value(AnyKey("values"), or: [String]())))
        case "trace_flags":
            return TraceFlagsPolicy()
        case "ottl_condition":
            throw d.invalid("type", "policy type \"ottl_condition\" is not supported by tracepipe (no OTTL engine); express the condition with the other policy types")
        case "and":
            let s = try section(c, .and)
            return AndPolicy(subPolicies: try subPolicies(s, key: "and_sub_policy"))
        case "drop":
            let s = try section(c, .drop)
            return DropPolicy(subPolicies: try subPolicies(s, key: "drop_sub_policy"))
        case "not":
            let s = try section(c, .not)
            let k = try s.container(keyedBy: AnyKey.self)
            let sub = try k.superDecoder(forKey: AnyKey("not_sub_policy"))
            return NotPolicy(subPolicy: try named(sub, allowCompositeLike: false).policy)
        case "composite":
            guard allowCompositeLike else { throw d.invalid("type", "composite policies cannot be nested") }
            let s = try section(c, .composite)
            let k = try s.container(keyedBy: AnyKey.self)
            let maxTotal = try k.value(AnyKey("max_total_spans_per_second"), or: Int64(0))
            guard maxTotal > 0 else { throw s.invalid("max_total_spans_per_second", "must be greater than zero") }
            let order: [String] = try k.value(AnyKey("policy_order"), or: [])
            var subs: [String: any SamplingPolicy] = [:]
            var subOrder: [String] = []
            var u = try k.nestedUnkeyedContainer(forKey: AnyKey("composite_sub_policy"))
            while !u.isAtEnd {
                let p = try named(try u.superDecoder(), allowCompositeLike: false)
                subs[p.name] = p.policy
                subOrder.append(p.name)
            }
            struct Allocation: Decodable { var policy: String; var percent: Int64 }
            let allocations: [Allocation] = try k.value(AnyKey("rate_allocation"), or: [])
            let names = order.isEmpty ? subOrder : order
            for n in names where subs[n] == nil {
                throw s.invalid("policy_order", "names \"\(n)\" which is not a composite_sub_policy")
            }
            // Sub-policies without an allocation share what the allocated ones leave, equally.
            let allocated = Dictionary(allocations.map { ($0.policy, $0.percent) }, uniquingKeysWith: { a, _ in a })
            let rest = max(0, 100 - allocated.values.reduce(0, +))
            let unallocated = names.filter { allocated[$0] == nil }.count
            return CompositePolicy(subs: names.map { n in
                let pct = allocated[n] ?? (unallocated > 0 ? rest / Int64(unallocated) : 0)
                return CompositePolicy.Sub(name: n, policy: subs[n]!, budget: maxTotal * pct / 100)
            }, maxTotal: maxTotal)
        default:
            throw d.invalid("type", "unknown sampling policy type \"\(type)\"")
        }
    }

    static func subPolicies(_ d: any Decoder, key: String) throws -> [any SamplingPolicy] {
        let k = try d.container(keyedBy: AnyKey.self)
        var u = try k.nestedUnkeyedContainer(forKey: AnyKey(key))
        var out: [any SamplingPolicy] = []
        while !u.isAtEnd { out.append(try named(try u.superDecoder(), allowCompositeLike: false).policy) }
        guard !out.isEmpty else { throw d.invalid(key, "needs at least one sub-policy") }
        return out
    }
}

/// A coding key for sections whose keys differ by policy type.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
