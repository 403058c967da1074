import TraceModel

/// Sample trace data for tests.
public enum TestData {
    /// A request that sets every field of the model, every attribute kind included.
    public static var allFields: TraceData {
        let attrs: [KeyValue] = [
            KeyValue("s", .string("héllo \"quoted\" \\ \n\t<>&")),
            KeyValue("b", .bool(true)),
            KeyValue("i", .int(-9_223_372_036_854_775_808)),
            KeyValue("imax", .int(Int64.max)),
            KeyValue("d", .double(3.25)),
            KeyValue("dneg", .double(-1.5e-7)),
            KeyValue("dbig", .double(1.2345678901234567e300)),
            KeyValue("nan", .double(.nan)),
            KeyValue("inf", .double(.infinity)),
            KeyValue("ninf", .double(-.infinity)),
            KeyValue("bytes", .bytes([0, 1, 2, 250, 255])),
            KeyValue("empty", .empty),
            KeyValue("arr", .array([.string("a"), .int(1), .array([.bool(false)]), .kvlist([KeyValue("k", .double(2.5))]), .empty])),
            KeyValue("map", .kvlist([KeyValue("inner", .kvlist([KeyValue("deep", .array([.string("z")]))]))])),
            KeyValue("emptyarr", .array([])),
            KeyValue("emptymap", .kvlist([])),
        ]
        let span = Span(
            traceID: TraceID(high: 0x5b8e_fff7_9803_8103, low: 0xd269_b633_813f_c60c),
            spanID: SpanID(0xeee1_9b7e_c3c1_b174),
            traceState: "ot=th:8;rv:1,k=v",
            parentSpanID: SpanID(0x1a2b_3c4d_5e6f_7081),
            flags: 769,
            name: "GET /users/{id}",
            kind: .server,
            startTimeUnixNano: 1_544_712_660_000_000_000,
            endTimeUnixNano: 1_544_712_661_500_000_001,
            attributes: attrs,
            droppedAttributesCount: 3,
            events: [
                SpanEvent(timeUnixNano: 1_544_712_660_500_000_000, name: "exception",
                          attributes: [KeyValue("exception.message", .string("boom"))], droppedAttributesCount: 1),
                SpanEvent(),
            ],
            droppedEventsCount: 4,
            links: [
                SpanLink(traceID: TraceID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10), spanID: SpanID(0x0102_0304_0506_0708),
                         traceState: "x=y", attributes: [KeyValue("link.attr", .int(7))], droppedAttributesCount: 2, flags: 257),
            ],
            droppedLinksCount: 5,
            status: SpanStatus(code: .error, message: "internal error")
        )
        return TraceData(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [KeyValue("service.name", .string("api")), KeyValue("service.name", .string("dup"))], droppedAttributesCount: 6),
                scopeSpans: [
                    ScopeSpans(
                        scope: InstrumentationScope(name: "lib", version: "1.2.3", attributes: [KeyValue("scope.attr", .bool(false))], droppedAttributesCount: 7),
                        spans: [span, Span(traceID: span.traceID, spanID: SpanID(1), kind: SpanKind(rawValue: 9), status: SpanStatus(code: StatusCode(rawValue: 7)))],
                        schemaURL: "https://opentelemetry.io/schemas/1.21.0"
                    ),
                    ScopeSpans(),
                ],
                schemaURL: "https://opentelemetry.io/schemas/1.20.0"
            ),
            ResourceSpans(),
        ])
    }

    /// `spans` server spans of one trace, each with a few attributes, under one resource.
    public static func request(trace: UInt64, spans: Int, service: String = "e2e") -> TraceData {
        let list = (0..<spans).map { i in
            Span(traceID: TraceID(high: 0xABCD, low: trace), spanID: SpanID(trace << 16 | UInt64(i + 1)), name: "op-\(i)", kind: .server,
                 startTimeUnixNano: 1_700_000_000_000_000_000, endTimeUnixNano: 1_700_000_000_100_000_000,
                 attributes: [KeyValue("http.route", .string("/items/{id}")), KeyValue("n", .int(Int64(i)))])
        }
        return TraceData(resourceSpans: [ResourceSpans(
            resource: Resource(attributes: [KeyValue("service.name", .string(service))]),
            scopeSpans: [ScopeSpans(scope: InstrumentationScope(name: "test"), spans: list)]
        )])
    }
}
