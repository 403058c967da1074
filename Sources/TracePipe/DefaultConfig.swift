/// tracepipe's identity and the config it runs when given none.
public enum TracePipeInfo {
    public static let version = "0.1.0"

    /// A copy of `config/default.yaml`, used when that file is not found (a test keeps them equal).
    public static let defaultConfigYAML = """
# tracepipe's default pipeline: runs with no Tempo. OTLP/gRPC on 127.0.0.1:4317 and OTLP/HTTP on
# 127.0.0.1:4318 → the console
# (one count line per request) and ./data/traces.jsonl (one OTLP/JSON line per request).
extensions:
  health_check:
    endpoint: 127.0.0.1:13133

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
      http:
        endpoint: 127.0.0.1:4318

exporters:
  debug:
    verbosity: basic
  file:
    path: ./data/traces.jsonl

service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug, file]

"""
}
