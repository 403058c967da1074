/// The one list of component types tracepipe has. Adding a component: write its file, add it here.
extension ComponentRegistry {
    public static let builtIn = ComponentRegistry([
        .receiver("otlp", summary: "OTLP over gRPC (TraceService/Export) and HTTP (JSON and protobuf), gzip", config: OTLPReceiverConfig.self) { config, context, next in
            var parts: [any Receiver] = []
            if let grpc = config.grpc { parts.append(OTLPGRPCReceiver(config: grpc, context: context, next: next)) }
            if let http = config.http { parts.append(OTLPHTTPReceiver(config: http, context: context, next: next)) }
            return ReceiverGroup(parts)
        },
        .receiver("zipkin", summary: "Zipkin v2 and v1 JSON on /api/v2/spans and /api/v1/spans", config: ZipkinReceiverConfig.self) { config, context, next in
            ZipkinReceiver(config: config, context: context, next: next)
        },
        .processor("batch", summary: "batches spans (send_batch_size, timeout); keeps refused batches and pushes back", config: BatchProcessorConfig.self) { config, context, next in
            BatchProcessor(config: config, context: context, next: next)
        },
        .spanProcessor("probabilistic_sampler", summary: "head sampling by trace id (the collector's hash_seed, or OTEP 235 modes)", config: ProbabilisticSamplerConfig.self) { config, context in
            ProbabilisticSampler(config: config, context: context)
        },
        .processor("tail_sampling", summary: "decides per whole trace after decision_wait (errors, latency, attributes, rates, …)", config: TailSamplingConfig.self) { config, context, next in
            TailSamplingProcessor(config: config, context: context, next: next)
        },
        .spanProcessor("attributes", summary: "insert/update/upsert/delete/hash/extract/convert span attributes", AttributesProcessor.self),
        .spanProcessor("resource", summary: "the attributes actions on resource attributes", ResourceProcessor.self),
        .spanProcessor("redaction", summary: "keeps allowed keys, masks blocked values (****) with redaction.* summaries", RedactionProcessor.self),
        .processor("memory_limiter", summary: "refuses data (503) while resident memory is above its soft limit", config: MemoryLimiterConfig.self) { config, context, next in
            MemoryLimiterProcessor(config: config, context: context, next: next)
        },
        .exporter("debug", aliases: ["logging"], summary: "prints spans to stderr (basic, normal, detailed)", config: DebugExporterConfig.self) { config, context in
            DebugExporter(config: config, context: context)
        },
        .exporter("file", summary: "OTLP/JSON lines into a file, with rotation", config: FileExporterConfig.self) { config, context in
            FileExporter(config: config, context: context)
        },
        .exporter("otlphttp", aliases: ["otlp_http"], summary: "OTLP/HTTP to Tempo (protobuf or JSON, gzip), queued and retried", config: OTLPHTTPExporterConfig.self) { config, context in
            guard config.hasTracesEndpoint else {
                throw ConfigError(path: "exporters.\(context.id).endpoint", "this exporter has only metrics/logs/profiles endpoints; a traces pipeline needs endpoint or traces_endpoint")
            }
            return QueuedExporter(config: config.helper, sender: try OTLPHTTPSender(config: config, group: context.eventLoopGroup, logger: context.logger),
                                  context: context, authenticator: config.auth?.authenticator)
        },
        .exporter("otlp", aliases: ["otlp_grpc"], summary: "OTLP/gRPC to Tempo (gzip, TLS, metadata headers), queued and retried", config: OTLPGRPCExporterConfig.self) { config, context in
            QueuedExporter(config: config.helper, sender: try OTLPGRPCSender(config: config, group: context.eventLoopGroup, logger: context.logger),
                           context: context, authenticator: config.auth?.authenticator)
        },
        .exporter("loadbalancing", aliases: ["load_balancing"],
                  summary: "routes each trace (or service) to one backend of a tier on the collector's hash ring; static or DNS membership, failover",
                  config: LoadBalancingExporterConfig.self) { config, context in
            LoadBalancingExporter(config: config, context: context)
        },
        .extension("file_storage", summary: "a directory for persistent sending queues", config: FileStorageConfig.self) { config, context in
            FileStorageExtension(config: config, context: context)
        },
        .extension("basicauth", summary: "Authorization: Basic for exporters (auth.authenticator)", BasicAuthExtension.self),
        .extension("bearertokenauth", summary: "Authorization: Bearer <token> for exporters (auth.authenticator), token from config or a file",
                   BearerTokenAuthExtension.self),
        .extension("headers_setter", summary: "per-request headers for exporters (auth.authenticator), e.g. X-Scope-OrgID from request metadata",
                   HeadersSetterExtension.self),
        .extension("health_check", summary: "HTTP health endpoint for liveness/readiness probes", config: HealthCheckConfig.self) { config, context in
            HealthCheckExtension(config: config, context: context)
        },
    ])
}
