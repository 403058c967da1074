import Foundation

/// `processors.tail_sampling`: its settings and policies, decoded with the collector's keys.
public struct TailSamplingConfig: Decodable, Sendable {
    public var decisionWait = ConfigDuration.seconds(30)
    public var decisionWaitAfterRoot = ConfigDuration(nanoseconds: 0)
    public var numTraces = 50_000
    public var sampledCacheSize = 0
    public var nonSampledCacheSize = 0
    public var sampleOnFirstMatch = false
    public var dropPendingOnShutdown = false
    /// Collector key: at `num_traces` waiting traces, refuse new data (503) instead of deciding
    /// the oldest early.
    public var blockOnOverflow = false
    /// Collector key (0: off): a trace whose pieces add up to more protobuf bytes is decided at once.
    public var maximumTraceSizeBytes = 0
    /// tracepipe: what happens to a trace over `maximum_trace_size_bytes`.
    public var oversizedTrace = OversizedTrace.drop
    /// Collector key: traces are spread over this many shards by id, each deciding on its own
    /// core. tracepipe's default is one per core the process may use (the collector's is 1).
    public var numShards = TailSamplingConfig.defaultShards
    /// tracepipe: the bytes (in memory) spans waiting for a decision may take, all shards
    /// together; nil: half the process's memory limit (its cgroup's, else the machine's).
    public var maxWaitingBytes: Int?
    /// tracepipe: what happens when a request does not fit in `max_waiting_mib`.
    public var whenFull = WhenFull.refuse
    public var policies: [NamedPolicy] = []

    public enum OversizedTrace: String, ConfigEnum {
        /// As the collector: dropped, and its later spans too.
        case drop
        /// Decided "sampled" at once and handed on; its later spans follow (Tempo keeps what
        /// fits its own `max_bytes_per_trace`).
        case forward
    }

    public enum WhenFull: String, ConfigEnum {
        /// The request is refused (HTTP 503 / gRPC UNAVAILABLE, Retry-After): senders back off.
        case refuse
        /// The oldest waiting traces are decided early on what they have, making room.
        case decide_early
    }

    static let defaultShards = max(1, min(256, ProcessInfo.processInfo.activeProcessorCount))
    /// Used when no memory limit is known (tests, benchmarks without a platform).
    static let fallbackWaitingBytes = 1 << 30

    public struct NamedPolicy: Sendable {
        public var name: String
        public var type: String
        public var policy: any SamplingPolicy
    }

    enum Keys: String, CodingKey {
        case policies, decision_wait, decision_wait_after_root_received, num_traces, expected_new_traces_per_sec, decision_cache
        case sample_on_first_match, drop_pending_traces_on_shutdown, block_on_overflow, maximum_trace_size_bytes
        case sampling_strategy, num_shards, tail_storage
        case max_waiting_mib, when_full, oversized_trace
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
        blockOnOverflow = try c.value(.block_on_overflow, or: false)
        maximumTraceSizeBytes = try c.value(.maximum_trace_size_bytes, or: 0)
        guard maximumTraceSizeBytes >= 0 else { throw decoder.invalid("maximum_trace_size_bytes", "must not be negative (0 turns the limit off)") }
        oversizedTrace = try c.value(.oversized_trace, or: .drop)
        numShards = try c.value(.num_shards, or: Self.defaultShards)
        guard (1...256).contains(numShards) else { throw decoder.invalid("num_shards", "must be between 1 and 256") }
        if let mib = try c.decodeIfPresent(Double.self, forKey: .max_waiting_mib) {
            guard mib > 0 else { throw decoder.invalid("max_waiting_mib", "must be greater than zero (leave it out for half the memory limit)") }
            guard mib <= 16_777_216 else { throw decoder.invalid("max_waiting_mib", "must be at most 16777216 (16 TiB)") }
            maxWaitingBytes = Int(mib * 1_048_576)
        }
        whenFull = try c.value(.when_full, or: .refuse)
        if c.contains(.tail_storage) {
            decoder.reportUnsupported("tail_storage", "not supported by tracepipe's tail_sampling (a durable pipeline journals waiting spans to the exporters' file_storage instead)")
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
