"""Checks that every span send.py recorded came out of tracepipe's file exporter with its ids,
name, service and attributes."""
import json
import sys

out_path, records = sys.argv[1], sys.argv[2:]
found = {}
with open(out_path) as f:
    for line in f:
        data = json.loads(line)
        for rs in data.get("resourceSpans", []):
            service = next((a["value"].get("stringValue") for a in rs.get("resource", {}).get("attributes", []) if a["key"] == "service.name"), None)
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    attrs = {}
                    for a in sp.get("attributes", []):
                        v = a["value"]
                        attrs[a["key"]] = next(iter(v.values())) if v else None
                    found[sp.get("spanId")] = (sp.get("traceId"), sp.get("name"), service, attrs)


def same(expected, got):
    """OTLP keeps types; Zipkin carries tags as strings (lists as JSON) — accept either form."""
    if isinstance(got, dict) and "values" in got:
        got = [next(iter(x.values())) for x in got["values"]]
    if isinstance(expected, bool):
        return got is expected or got in ("true", "false") and (got == "true") == expected
    if isinstance(expected, (int, float)):
        try:
            return float(got) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, list):
        return got == expected or got == json.dumps(expected, separators=(",", ":")) or got == json.dumps(expected)
    return got == expected


failures = 0
total = 0
for path in records:
    for r in json.load(open(path)):
        total += 1
        got = found.get(r["span_id"])
        problem = None
        if got is None:
            problem = "missing"
        elif got[0] != r["trace_id"]:
            problem = f"trace id {got[0]} != {r['trace_id']}"
        elif got[1] != r["name"]:
            problem = f"name {got[1]} != {r['name']}"
        elif got[2] != r["service"]:
            problem = f"service {got[2]} != {r['service']}"
        else:
            for k, v in r["attributes"].items():
                if k not in got[3] or not same(v, got[3][k]):
                    problem = f"attribute {k}={v!r} arrived as {got[3].get(k)!r}"
                    break
        if problem:
            failures += 1
            print(f"FAIL {r['service']} {r['name']} {r['span_id']}: {problem}")
print(f"interop: {total - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
