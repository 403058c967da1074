// OTLP/gRPC load for scripts/bench-grpc: `send` drives Export calls at the highest rate the
// server takes, `sink` stands in for Tempo and counts what tracepipe's otlp exporter delivers.
//
//   grpc-load send <port> <seconds> <connections> <calls-in-flight-per-connection> <payload.pb>...
//   grpc-load sink <port>
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOConcurrencyHelpers
import TraceModel
import TestSupport
import TracePipe

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: grpc-load send <port> <seconds> <conns> <in-flight> <payload.pb>... | sink <port>\n".utf8))
    exit(2)
}
let port = Int(args[2]) ?? 0

/// Spans in one Export request (decoded, so a malformed export counts as none).
@Sendable func countSpans(_ bytes: UnsafeRawBufferPointer) -> Int {
    (try? OTLPProtobufDecoder.decode(bytes).spanCount) ?? 0
}

struct CountingSink: RegistrableRPCService {
    let spans: NIOLockedValueBox<(calls: Int, spans: Int)>

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: OTLPTraceService.export, deserializer: RawBytesCodec(), serializer: TraceResponseCodec()) { [spans] request, _ in
            let single = try await ServerRequest(stream: request)
            let n = single.message.withUnsafeBytes(countSpans)
            spans.withLockedValue { $0.calls += 1; $0.spans += n }
            return StreamingServerResponse(single: ServerResponse(message: ExportTraceResponse()))
        }
    }
}

switch args[1] {
case "sink":
    let counts = NIOLockedValueBox((calls: 0, spans: 0))
    let transport = HTTP2ServerTransport.Posix(
        address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext,
        // Window and frame sizes like a tuned backend (grpc-go grows its window up to 16 MiB).
        config: .defaults {
            $0.compression.enabledAlgorithms = .all
            $0.rpc.maxRequestPayloadSize = 256 << 20
            $0.http2.targetWindowSize = 8 << 20
            $0.http2.maxFrameSize = 1 << 20
        })
    let server = GRPCServer(transport: transport, services: [CountingSink(spans: counts)])
    // The bench script reads the running totals from this file (one write per 100 ms).
    let statsPath = ProcessInfo.processInfo.environment["GRPC_SINK_STATS"] ?? "/tmp/grpc-sink-stats.json"
    Task {
        while true {
            let c = counts.withLockedValue { $0 }
            try? Data("{\"requests\":\(c.calls),\"spans\":\(c.spans)}".utf8).write(to: URL(fileURLWithPath: statsPath), options: .atomic)
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
    try await server.serve()

case "send":
    guard args.count >= 7, let seconds = Double(args[3]), let conns = Int(args[4]), let inFlight = Int(args[5]) else {
        FileHandle.standardError.write(Data("usage: grpc-load send <port> <seconds> <conns> <in-flight> <payload.pb>...\n".utf8))
        exit(2)
    }
    let bodies = try args[6...].map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: $0))) }
    let spansPerBody = bodies.map { b in b.withUnsafeBytes(countSpans) }
    let totals = NIOLockedValueBox((ok: 0, failed: 0, spans: 0, lastError: ""))
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for c in 0..<conns {
            let transport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
                config: .defaults { $0.compression.enabledAlgorithms = .all })
            let client = GRPCClient(transport: transport)
            group.addTask { try await client.runConnections() }
            group.addTask {
                try await withThrowingTaskGroup(of: Void.self) { calls in
                    for k in 0..<inFlight {
                        calls.addTask {
                            var i = (c * inFlight + k) % bodies.count
                            while ContinuousClock.now < deadline {
                                do {
                                    _ = try await client.unary(
                                        request: ClientRequest(message: bodies[i]), descriptor: OTLPTraceService.export,
                                        serializer: RawBytesCodec(), deserializer: TraceResponseCodec(), options: .defaults
                                    ) { try $0.message }
                                    totals.withLockedValue { $0.ok += 1; $0.spans += spansPerBody[i] }
                                } catch {
                                    totals.withLockedValue { $0.failed += 1; $0.lastError = "\(error)" }
                                }
                                i = (i + 1) % bodies.count
                            }
                        }
                    }
                    try await calls.waitForAll()
                }
                client.beginGracefulShutdown()
            }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let t = totals.withLockedValue { $0 }
    let error = t.lastError.replacingOccurrences(of: "\"", with: "'")
    print("GRPCLOAD {\"ok\":\(t.ok),\"failed\":\(t.failed),\"spans\":\(t.spans),\"seconds\":\(secondsTaken),\"last_error\":\"\(error)\"}")

default:
    FileHandle.standardError.write(Data("unknown mode \(args[1])\n".utf8))
    exit(2)
}
