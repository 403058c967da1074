import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Asks DNS servers for a name's A and AAAA records over UDP, as a stub resolver does: both
/// questions at once from a fresh random port with random ids, the next server when one fails,
/// the search domains in resolv.conf's order, /etc/hosts first. It is how the loadbalancing
/// exporter's `dns` resolver finds the Pods behind a headless Service.
struct DNSClient: Sendable {
    enum LookupError: Error, CustomStringConvertible {
        case notFound(String)
        case failed(String)

        var description: String {
            switch self {
            case .notFound(let m), .failed(let m): return m
            }
        }
    }

    let files: ResolverFiles
    let group: any EventLoopGroup

    /// The name's addresses as text (IPv4 and IPv6), in the order the answers gave them.
    func lookup(_ name: String, timeout: Duration) async throws(LookupError) -> [String] {
        if IPAddressText.bytes(name) != nil { return [name] }
        if let fixed = files.hosts[name.lowercased()] { return fixed }
        let deadline = ContinuousClock.now + timeout
        var lastFailure = "no DNS server answered"
        for candidate in files.candidates(for: name) {
            var answered = false
            for server in files.nameservers {
                let left = deadline - .now
                guard left > .zero else { throw .failed("looking up \(name): timed out after \(timeout) (\(lastFailure))") }
                do {
                    switch try await ask(server, candidate, timeout: left) {
                    case .addresses(let a): return a
                    case .noSuchName: answered = true
                    }
                } catch {
                    lastFailure = "\(server): \(error)"
                    continue
                }
                if answered { break }
            }
            // Every server failed (not "no such name"): the lookup failed, rather than wrongly
            // trying the next search domain.
            if !answered { throw .failed("looking up \(candidate): \(lastFailure)") }
        }
        throw .notFound("no such host: \(name) (asked \(files.nameservers.map(\.description).joined(separator: ", ")))")
    }

    enum Outcome {
        case addresses([String])
        /// NXDOMAIN, or the name exists without A/AAAA records: try the next candidate.
        case noSuchName
    }

    /// One server, one name: the A and AAAA questions together.
    func ask(_ server: DNSServerAddress, _ name: String, timeout: Duration) async throws -> Outcome {
        let ids = (UInt16.random(in: 1...UInt16.max), UInt16.random(in: 1...UInt16.max))
        guard let qa = DNSMessage.query(id: ids.0, name: name, type: .a), let qaaaa = DNSMessage.query(id: ids.1, name: name, type: .aaaa) else {
            throw LookupError.failed("\"\(name)\" is not a valid DNS name")
        }
        let remote = try SocketAddress.makeAddressResolvingHost(server.host, port: server.port)
        let collector = AnswerCollector(expected: [ids.0, ids.1], promise: group.next().makePromise())
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) } }
            .bind(host: remote.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        defer { channel.close(promise: nil) }
        for q in [qa, qaaaa] {
            let envelope = AddressedEnvelope(remoteAddress: remote, data: channel.allocator.buffer(bytes: q))
            channel.writeAndFlush(envelope, promise: nil)
        }
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(timeout.totalNanoseconds)) {
            collector.promise.fail(LookupError.failed("no answer within \(timeout)"))
        }
        defer { timer.cancel() }
        var answers = try await collector.promise.futureResult.get().sorted { $0.id == ids.0 && $1.id != ids.0 }
        // An answer too large for UDP (a Service with hundreds of Pods) is asked again over TCP,
        // as every resolver does: a cut list would give a ring of its own.
        for i in answers.indices where answers[i].truncated {
            let query = answers[i].id == ids.0 ? qa : qaaaa
            answers[i] = try await askOverTCP(remote, query: query, id: answers[i].id, timeout: timeout)
        }
        // As Go's resolver: the addresses of whichever question was answered; a failure counts
        // only when neither gave any (some servers refuse AAAA for names they hold A records of).
        let addresses = answers.flatMap { $0.addresses.compactMap(IPAddressText.text) }
        if !addresses.isEmpty { return .addresses(addresses) }
        if let failed = answers.first(where: { $0.responseCode != 0 && $0.responseCode != 3 }) {
            throw LookupError.failed("server failure (rcode \(failed.responseCode))")
        }
        return .noSuchName
    }
}

extension DNSClient {
    /// One question over TCP (RFC 7766: each message after its 2-byte length).
    func askOverTCP(_ remote: SocketAddress, query: [UInt8], id: UInt16, timeout: Duration) async throws -> DNSMessage.Answer {
        let reader = TCPAnswerReader(promise: group.next().makePromise())
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(timeout.totalNanoseconds))
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(reader) } }
            .connect(to: remote).get()
        defer { channel.close(promise: nil) }
        var framed = channel.allocator.buffer(capacity: query.count + 2)
        framed.writeInteger(UInt16(query.count))
        framed.writeBytes(query)
        channel.writeAndFlush(framed, promise: nil)
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(timeout.totalNanoseconds)) {
            reader.promise.fail(LookupError.failed("no answer over TCP within \(timeout)"))
        }
        defer { timer.cancel() }
        let answer = try DNSMessage.parse(try await reader.promise.futureResult.get())
        guard answer.id == id else { throw LookupError.failed("the TCP answer is for another question") }
        return answer
    }
}

// Both handlers below may see more than one outcome (an answer, the connection's end, the
// timer); a promise keeps the first it is given and ignores the rest, as GRPCClientConnection's
// call timer relies on too.

/// Reads one length-prefixed DNS message from a TCP connection.
private final class TCPAnswerReader: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let promise: EventLoopPromise<[UInt8]>
    private let buffer = NIOLockedValueBox(ByteBuffer())

    init(promise: EventLoopPromise<[UInt8]>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        let message: [UInt8]? = buffer.withLockedValue { b in
            b.writeBuffer(&chunk)
            guard let length = b.getInteger(at: b.readerIndex, as: UInt16.self), b.readableBytes >= 2 + Int(length) else { return nil }
            return b.getBytes(at: b.readerIndex + 2, length: Int(length))
        }
        if let message { promise.succeed(message) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(DNSClient.LookupError.failed("the server closed the TCP connection before answering"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }
}

/// Gathers the answers to the expected query ids on one datagram channel.
private final class AnswerCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let promise: EventLoopPromise<[DNSMessage.Answer]>
    private let state: NIOLockedValueBox<(waiting: Set<UInt16>, answers: [DNSMessage.Answer])>

    init(expected: [UInt16], promise: EventLoopPromise<[DNSMessage.Answer]>) {
        self.promise = promise
        state = NIOLockedValueBox((Set(expected), []))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        let bytes = envelope.data.readBytes(length: envelope.data.readableBytes) ?? []
        // Anything that is not an answer to our ids (stray, repeated or spoofed) is ignored.
        guard let answer = try? DNSMessage.parse(bytes) else { return }
        let finished: [DNSMessage.Answer]? = state.withLockedValue { s in
            guard s.waiting.remove(answer.id) != nil else { return nil }
            s.answers.append(answer)
            return s.waiting.isEmpty ? s.answers : nil
        }
        if let finished { promise.succeed(finished) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }
}
