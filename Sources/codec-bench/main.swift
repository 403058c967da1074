// Codec throughput benchmark: decodes and encodes the reference request bodies in a loop on one
// thread and prints MB/s and spans/s. Run through scripts/bench-codec (release build).
import Foundation
import TraceModel

let args = CommandLine.arguments
let dir = args.count > 1 ? args[1] : "/tmp/tpbench/payloads/n100"
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

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` over the payloads for `seconds` and returns (bytes/s, spans/s).
func measure(_ name: String, bytesOf: (Int) -> Int, _ body: (Int) throws -> Int) rethrows {
    // Warm-up pass so that one-time initialisation is not measured.
    for i in 0..<bodies.count { _ = try body(i) }
    var bytes = 0
    var spans = 0
    var iterations = 0
    var sink = 0
    let start = now()
    var elapsed = 0.0
    repeat {
        for i in 0..<bodies.count {
            sink &+= try body(i)
            bytes += bytesOf(i)
            spans += spansPerBody[i]
        }
        iterations += bodies.count
        elapsed = now() - start
    } while elapsed < seconds
    let mbs = Double(bytes) / elapsed / 1e6
    let sps = Double(spans) / elapsed
    print(String(format: "%-12@ %8.1f MB/s %12.0f spans/s  (%d bodies, %.2f s, checksum %d)", name as NSString, mbs, sps, iterations, elapsed, sink & 0xFF))
}

print("payloads: \(bodies.count) bodies from \(dir), avg \(bodies.map(\.count).reduce(0, +) / bodies.count) bytes, \(spansPerBody[0]) spans each")
if only != "encode" {
try measure("json decode", bytesOf: { bodies[$0].count }) { i in
    try OTLPJSONDecoder.decode(bodies[i]).resourceSpans.count
}
}
if only != "decode" {
measure("json encode", bytesOf: { bodies[$0].count }) { i in
    OTLPJSONEncoder.encode(decoded[i]).count
}
}
