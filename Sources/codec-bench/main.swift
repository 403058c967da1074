// Codec throughput benchmark: decodes and encodes the reference request bodies in a loop on one
// thread and prints MB/s and spans/s. Run through scripts/bench-codec (release build).
import Foundation
import TraceModel

let args = CommandLine.arguments
let dir = args.count > 1 ? args[1] : "/tmp/tpbench/payloads/n100"
// "<n>x" instead of seconds runs exactly n passes over the bodies in one round: a fixed amount of
// work whose instruction count (e.g. under `valgrind --tool=callgrind`) is repeatable.
let fixedPasses = args.count > 2 && args[2].hasSuffix("x") ? Int(args[2].dropLast()) : nil
let seconds = args.count > 2 ? Double(args[2]) ?? 3 : 3
// Optional third argument: "decode" or "encode" to run only that half (for profiling).
let only = args.count > 3 ? args[3] : ""

let files = (try FileManager.default.contentsOfDirectory(atPath: dir))
    .filter { $0.hasPrefix("req") && $0.hasSuffix(".json") }
    .sorted()
guard !files.isEmpty else {
    FileHandle.standardError.write("no req*.json payloads in \(dir); run ../shared/bench/gen_payload.py first\n".data(using: .utf8)!)
    exit(2)
}
let bodies: [[UInt8]] = try files.map { Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0))) }
let decoded: [TraceData] = try bodies.map { try OTLPJSONDecoder.decode($0) }
let spansPerBody = decoded.map(\.spanCount)
let protoBodies: [[UInt8]] = decoded.map { OTLPProtobufEncoder.encode($0) }
// The same requests as an SDK marshals them (gen_payload.py's req*.pb, written by the Python
// protobuf runtime: fields in ascending order, as clients send them); our encoder writes the
// collector's descending order. Decoding both shows whether the order matters.
let sdkProtoBodies: [[UInt8]] = try files.compactMap { name -> [UInt8]? in
    let pb = dir + "/" + name.dropLast(".json".count) + ".pb"
    return FileManager.default.fileExists(atPath: pb) ? Array(try Data(contentsOf: URL(fileURLWithPath: pb))) : nil
}
let zipkinBodies: [[UInt8]] = decoded.map { zipkinV2JSON($0) }

/// The same spans as a Zipkin v2 JSON body (what a Zipkin client would send).
func zipkinV2JSON(_ data: TraceData) -> [UInt8] {
    func q(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
    var spans: [String] = []
    for rs in data.resourceSpans {
        let service = rs.resource.attributes[attribute: "service.name"]?.stringValue ?? ""
        for ss in rs.scopeSpans {
            for s in ss.spans {
                let tags = s.attributes.map { kv -> String in
                    let v: String
                    switch kv.value {
                    case .string(let x): v = x
                    case .int(let i): v = String(i)
                    case .double(let d): v = String(d)
                    case .bool(let b): v = String(b)
                    default: v = ""
                    }
                    return "\(q(kv.key)):\(q(v))"
                }.joined(separator: ",")
                let kind = [2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"][Int(s.kind.rawValue)].map { ",\"kind\":\"\($0)\"" } ?? ""
                let parent = s.parentSpanID.isZero ? "" : ",\"parentId\":\"\(s.parentSpanID.hex)\""
                spans.append("{\"traceId\":\"\(s.traceID.hex)\",\"id\":\"\(s.spanID.hex)\"\(parent),\"name\":\(q(s.name))\(kind),\"timestamp\":\(s.startTimeUnixNano / 1000),\"duration\":\((s.endTimeUnixNano - s.startTimeUnixNano) / 1000),\"localEndpoint\":{\"serviceName\":\(q(service))},\"tags\":{\(tags)}}")
            }
        }
    }
    return Array(("[" + spans.joined(separator: ",") + "]").utf8)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` over the payloads in rounds of `seconds / 5` and prints the median and best
/// round (the machine is shared and noisy; the best round is the least disturbed one).
func measure(_ name: String, bytesOf: (Int) -> Int, _ body: (Int) throws -> Int) rethrows {
    // Warm-up pass so that one-time initialisation is not measured.
    for i in 0..<bodies.count { _ = try body(i) }
    var rates: [(mbs: Double, sps: Double)] = []
    var sink = 0
    for _ in 0..<(fixedPasses == nil ? 5 : 1) {
        var bytes = 0
        var spans = 0
        let start = now()
        var elapsed = 0.0
        repeat {
            for i in 0..<bodies.count {
                sink &+= try body(i)
                bytes += bytesOf(i)
                spans += spansPerBody[i]
            }
            elapsed = now() - start
            if let n = fixedPasses, bytes >= n * bodies.map(\.count).reduce(0, +) { break }
        } while fixedPasses != nil || elapsed < seconds / 5
        rates.append((Double(bytes) / elapsed / 1e6, Double(spans) / elapsed))
    }
    let sorted = rates.sorted { $0.mbs < $1.mbs }
    let median = sorted[sorted.count / 2]
    let best = sorted[sorted.count - 1]
    print(String(format: "%-12@ median %7.1f MB/s %9.0f spans/s   best %7.1f MB/s %9.0f spans/s  (checksum %d)",
                 name as NSString, median.mbs, median.sps, best.mbs, best.sps, sink & 0xFF))
}

let sections = only.isEmpty ? ["decode", "encode", "proto-decode", "proto-encode", "zipkin-decode", "estimate"] : only.split(separator: ",").map(String.init)
print("payloads: \(bodies.count) bodies from \(dir), avg \(bodies.map(\.count).reduce(0, +) / bodies.count) bytes, \(spansPerBody[0]) spans each")
// What a queued span costs, for sizing sending queues (docs/operations.md): the in-memory queue
// counts `estimatedByteSize` against `memory_limit_mib`; a persistent queue stores protobuf.
let totalSpans = spansPerBody.reduce(0, +)
print("per span: \(decoded.map(\.estimatedByteSize).reduce(0, +) / totalSpans) bytes in a memory queue, "
      + "\(protoBodies.map(\.count).reduce(0, +) / totalSpans) as protobuf (persistent queue), "
      + "\(bodies.map(\.count).reduce(0, +) / totalSpans) as OTLP/JSON")
if sections.contains("decode") {
try measure("json decode", bytesOf: { bodies[$0].count }) { i in
    try OTLPJSONDecoder.decode(bodies[i]).resourceSpans.count
}
}
if sections.contains("encode") {
measure("json encode", bytesOf: { bodies[$0].count }) { i in
    OTLPJSONEncoder.encode(decoded[i]).count
}
}
if sections.contains("proto-decode") {
try measure("proto decode", bytesOf: { protoBodies[$0].count }) { i in
    try OTLPProtobufDecoder.decode(protoBodies[i]).resourceSpans.count
}
if sdkProtoBodies.count == bodies.count {
    try measure("proto decode (SDK bytes)", bytesOf: { sdkProtoBodies[$0].count }) { i in
        try OTLPProtobufDecoder.decode(sdkProtoBodies[i]).resourceSpans.count
    }
}
}
if sections.contains("zipkin-decode") {
try measure("zipkin decode", bytesOf: { zipkinBodies[$0].count }) { i in
    try zipkinBodies[i].withUnsafeBytes { raw in
        ZipkinTranslator.translate(try ZipkinV2JSONDecoder.decode(raw), parseStringTags: false).resourceSpans.count
    }
}
}
if sections.contains("proto-encode") {
measure("proto encode", bytesOf: { protoBodies[$0].count }) { i in
    OTLPProtobufEncoder.withEncoded(decoded[i]) { $0.count }
}
}
// Not a codec, but the same kind of walk over every span: what the exporter's queue pays per
// request to account for its memory (QueuedExporter).
if sections.contains("estimate") {
measure("size estimate", bytesOf: { protoBodies[$0].count }) { i in
    decoded[i].estimatedByteSize
}
}
