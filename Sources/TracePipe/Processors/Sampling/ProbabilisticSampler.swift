import FoundationEssentials
import Logging
import TraceModel

/// `processors.probabilistic_sampler` for traces: keeps a share of traces, deciding per span from
/// the trace id so every span of a trace — in tracepipe or in a collector with the same
/// settings — gets the same decision. `hash_seed` is bit-for-bit the collector's algorithm;
/// `proportional` and `equalizing` follow OpenTelemetry's consistent-probability sampling and
/// write the new threshold into the span's trace state.
public struct ProbabilisticSamplerConfig: Decodable, Sendable {
    public enum Mode: String, ConfigEnum { case hash_seed, proportional, equalizing }

    public var samplingPercentage: Float = 0
    public var hashSeed: UInt32 = 0
    public var mode = Mode.hash_seed
    public var failClosed = true
    public var samplingPrecision = 4

    public init() {}

    enum Keys: String, CodingKey {
        case sampling_percentage, hash_seed, mode, fail_closed, sampling_precision, attribute_source, from_attribute, sampling_priority
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        samplingPercentage = Float(try c.value(.sampling_percentage, or: 0.0))
        hashSeed = try c.value(.hash_seed, or: 0)
        if let m = try c.decodeIfPresent(String.self, forKey: .mode), !m.isEmpty {
            guard let parsed = Mode(rawValue: m) else { throw decoder.invalid("mode", "unsupported sampler mode \"\(m)\" (expected hash_seed, proportional or equalizing)") }
            mode = parsed
        }
        failClosed = try c.value(.fail_closed, or: true)
        samplingPrecision = try c.value(.sampling_precision, or: 4)
        guard samplingPercentage.isFinite else { throw decoder.invalid("sampling_percentage", "sampling rate is invalid: \(samplingPercentage)%") }
        guard samplingPercentage >= 0 else { throw decoder.invalid("sampling_percentage", "sampling rate is negative: \(samplingPercentage)%") }
        if samplingPercentage > 0 && Double(samplingPercentage) / 100 < 0x1p-56 {
            throw decoder.invalid("sampling_percentage", "sampling rate is too small: \(samplingPercentage)%")
        }
        guard samplingPrecision > 0 else { throw decoder.invalid("sampling_precision", "invalid sampling precision: 0") }
        guard samplingPrecision <= 14 else { throw decoder.invalid("sampling_precision", "sampling precision is too great, should be <= 14: \(samplingPrecision)") }
        // Logs-only keys: accepted in traces pipelines and ignored, as by the collector.
        for k in [Keys.attribute_source, .from_attribute, .sampling_priority] { _ = try c.decodeIfPresent(String.self, forKey: k) }
    }
}

public struct ProbabilisticSampler: SpanProcessing {
    let config: ProbabilisticSamplerConfig
    let logger: Logger
    let counters: SamplerCounters
    /// hash_seed: the 14-bit bucket limit; 0 samples nothing.
    let scaledPercentage: UInt32
    /// proportional/equalizing: the configured threshold (reject fraction × 2^56).
    let configuredThreshold: UInt64
    let ratio: Double

    public init(config: ProbabilisticSamplerConfig, context: ComponentContext) {
        self.config = config
        self.logger = context.logger
        self.counters = context.telemetry.sampler(context.id)
        let pct = min(config.samplingPercentage, 100)
        // The collector multiplies in float32 and truncates; so do we, to agree bit for bit.
        scaledPercentage = UInt32(pct * Float(163.84))
        ratio = Double(pct) / 100
        configuredThreshold = Self.threshold(probability: ratio, precision: config.samplingPrecision)
    }

    /// Reject threshold for a sampling probability, rounded to `precision` hex digits.
    static func threshold(probability p: Double, precision: Int) -> UInt64 {
        if p >= 1 { return 0 }
        if p <= 0 { return SamplingTraceState.maxAdjusted }
        let scaled = UInt64((p * 0x1p56).rounded())
        var t = SamplingTraceState.maxAdjusted - min(scaled, SamplingTraceState.maxAdjusted)
        let shift = UInt64(4 * (14 - precision))
        if shift > 0 {
            t = ((t + (1 << (shift - 1))) >> shift) << shift
            t = min(t, SamplingTraceState.maxAdjusted - 1)
        }
        return t
    }

    public func process(_ data: inout TraceData) throws {
        let total = data.spanCount
        let kept = data.keepSpans { decide(&$0) }
        counters.record(sampled: kept, dropped: total - kept)
    }

    enum Priority { case drop, keep, none }

    static func priority(_ span: Span) -> Priority {
        guard let v = span.attributes[attribute: "sampling.priority"] else { return .none }
        let x: Double
        switch v {
        case .int(let i): x = Double(i)
        case .double(let d): x = d
        case .string(let s):
            guard let d = Double(s) else { return .none }
            x = d
        default: return .none
        }
        if x == 0 { return .drop }
        return x > 0 ? .keep : .none
    }

    /// Decides one span, updating its trace state when it is kept.
    func decide(_ span: inout Span) -> Bool {
        var state: SamplingTraceState?
        var randomness: UInt64 = 0
        var threshold: UInt64
        var failed = false
        do {
            var st = try SamplingTraceState(parsing: span.traceState)
            switch config.mode {
            case .hash_seed:
                if st.randomness != nil || st.threshold != nil {
                    throw SamplingTraceState.ParseError(reason: "item has sampling randomness or threshold; hash_seed mode cannot add its own")
                }
                guard !span.traceID.isZero else { throw SamplingTraceState.ParseError(reason: "missing randomness") }
                let h = Self.fnv1a(seed: config.hashSeed, traceID: span.traceID)
                let bucket = h & 0x3FFF
                let u = UInt64(h >> 18)
                let m = u ^ (u << 10)
                randomness = (UInt64(16383 - bucket) << 42) | (m << 14) | UInt64(bucket)
                threshold = scaledPercentage == 0 ? SamplingTraceState.maxAdjusted : UInt64(16384 - min(scaledPercentage, 16384)) << 42
                st.randomness = randomness
            case .proportional, .equalizing:
                if let rv = st.randomness {
                    randomness = rv
                } else {
                    randomness = span.traceID.low & (SamplingTraceState.maxAdjusted - 1)
                    guard !span.traceID.isZero else { throw SamplingTraceState.ParseError(reason: "missing randomness") }
                }
                if let incoming = st.threshold, randomness < incoming {
                    st.threshold = nil
                    throw SamplingTraceState.ParseError(reason: "inconsistent arriving threshold")
                }
                if config.mode == .equalizing {
                    threshold = max(configuredThreshold, st.threshold ?? 0)
                } else {
                    let incomingP = st.threshold.map { Double(SamplingTraceState.maxAdjusted - $0) / 0x1p56 } ?? 1
                    let p = incomingP * ratio
                    threshold = p < 0x1p-56 ? SamplingTraceState.maxAdjusted : Self.threshold(probability: p, precision: config.samplingPrecision)
                }
            }
            state = st
        } catch {
            failed = true
            threshold = config.failClosed ? SamplingTraceState.maxAdjusted : 0
        }
        switch Self.priority(span) {
        case .drop: threshold = SamplingTraceState.maxAdjusted
        case .keep: threshold = 0
        case .none: break
        }
        let sampled = threshold < SamplingTraceState.maxAdjusted && randomness >= threshold || threshold == 0
        if sampled, !failed, var st = state {
            // An existing, stricter threshold is kept: probability is never raised.
            if st.threshold == nil || threshold >= st.threshold! { st.threshold = threshold }
            span.traceState = st.serialized
        }
        return sampled
    }

    /// FNV-1a 32 over the seed (little-endian) then the 16 trace id bytes, as the collector hashes.
    static func fnv1a(seed: UInt32, traceID: TraceID) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for i in 0..<4 { h = (h ^ UInt32((seed >> (8 * i)) & 0xFF)) &* 0x0100_0193 }
        for shift in stride(from: 56, through: 0, by: -8) { h = (h ^ UInt32((traceID.high >> UInt64(shift)) & 0xFF)) &* 0x0100_0193 }
        for shift in stride(from: 56, through: 0, by: -8) { h = (h ^ UInt32((traceID.low >> UInt64(shift)) & 0xFF)) &* 0x0100_0193 }
        return h
    }
}
