"""Sends spans to tracepipe with one of the official OpenTelemetry Python exporters and records
what it sent (ids, names, attributes) for check.py."""
import json
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

exporter_name, endpoint, record_path = sys.argv[1], sys.argv[2], sys.argv[3]

if exporter_name == "otlp-proto-http":
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    exporter = OTLPSpanExporter(endpoint=endpoint)
elif exporter_name == "otlp-json-http":
    from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
    exporter = OTLPSpanExporter(endpoint=endpoint)
elif exporter_name == "otlp-proto-grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
elif exporter_name == "zipkin-json":
    from opentelemetry.exporter.zipkin.json import ZipkinExporter
    exporter = ZipkinExporter(endpoint=endpoint)
else:
    raise SystemExit(f"unknown exporter {exporter_name}")

service = f"interop-{exporter_name}"
provider = TracerProvider(resource=Resource.create({"service.name": service}))
provider.add_span_processor(BatchSpanProcessor(exporter))
tracer = provider.get_tracer("interop.check", "1.0")

sent = []
for i in range(25):
    with tracer.start_as_current_span(f"parent-{i}") as parent:
        parent.set_attribute("request.index", i)
        parent.set_attribute("http.route", f"/items/{i}")
        parent.set_attribute("ratio", 0.5)
        parent.set_attribute("cached", i % 2 == 0)
        parent.set_attribute("tags", ["a", "b"])
        parent.add_event("checkpoint", {"step": 1})
        with tracer.start_as_current_span(f"child-{i}") as child:
            child.set_attribute("db.system", "postgresql")
        for s, kind in ((parent, "parent"), (child, "child")):
            ctx = s.get_span_context()
            sent.append({
                "trace_id": format(ctx.trace_id, "032x"),
                "span_id": format(ctx.span_id, "016x"),
                "name": s.name,
                "attributes": {k: v if not isinstance(v, tuple) else list(v) for k, v in (s.attributes or {}).items()},
                "service": service,
            })

ok = provider.force_flush(30_000)
provider.shutdown()
json.dump(sent, open(record_path, "w"))
print(f"{exporter_name}: sent {len(sent)} spans (flush ok: {ok})")
