"""Checks that every span the clients sent reached the grpcio sink once, through tracepipe's otlp
(gRPC) exporter, with the configured tenant header."""
import json
import sys

sink_path, tenant, records = sys.argv[1], sys.argv[2], sys.argv[3:]
got = {}
for line in open(sink_path):
    r = json.loads(line)
    got.setdefault(r["span_id"], []).append(r)
failures = 0
total = 0
for path in records:
    for r in json.load(open(path)):
        total += 1
        seen = got.get(r["span_id"], [])
        if len(seen) != 1 or seen[0]["trace_id"] != r["trace_id"] or seen[0]["name"] != r["name"] or seen[0]["tenant"] != tenant:
            failures += 1
            print(f"gRPC sink: span {r['span_id']} ({r['name']}): {seen or 'missing'}")
print(f"gRPC exporter → grpcio sink: {total - failures}/{total} spans arrived once with x-scope-orgid={tenant}")
sys.exit(1 if failures else 0)
