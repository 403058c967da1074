import TraceModel

/// What a processor that changes or drops spans is written as: one function over the request's
/// data, which it owns (the only reference, so changes happen in place). `SpanProcessor` adds
/// the rest: the next consumer, the lifecycle, the item counters.
public protocol SpanProcessing: Sendable {
    /// Changes `data` in place. Spans it removes are not handed on; when it removes all of
    /// them, nothing is. A thrown `PipelineError` becomes the client's answer.
    func process(_ data: inout TraceData) throws
}

/// The processor around a `SpanProcessing`: hands each request through it to `next`.
public final class SpanProcessor<Processing: SpanProcessing>: Processor {
    public let processing: Processing
    let next: any TraceConsumer
    let counters: ProcessorCounters

    public init(_ processing: Processing, context: ComponentContext, next: any TraceConsumer) {
        self.processing = processing
        self.next = next
        self.counters = context.telemetry.processor(context.id)
    }

    public func consume(_ data: consuming TraceData) async throws {
        var out = data
        let incoming = out.spanCount
        try processing.process(&out)
        let outgoing = out.spanCount
        counters.record(incoming: incoming, outgoing: outgoing)
        if outgoing == 0 && incoming > 0 { return }
        try await next.consume(consume out)
    }
}

extension ComponentFactory {
    /// A processor written as a `SpanProcessing`: `make` builds it from its config and context.
    public static func spanProcessor<C: Decodable & Sendable, P: SpanProcessing>(
        _ type: String, aliases: [String] = [], summary: String, config: C.Type,
        make: @escaping @Sendable (C, ComponentContext) throws -> P
    ) -> ComponentFactory {
        .processor(type, aliases: aliases, summary: summary, config: config) { config, context, next in
            SpanProcessor(try make(config, context), context: context, next: next)
        }
    }
}
