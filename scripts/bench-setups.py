"""Set-ups of one tracepipe build against the reference one: the workload of ../shared/bench
(100-span protobuf requests, batch 8192, gzip'd export), tracepipe pinned to CPU 1, load and
sinks on CPU 0:

  http      wrk → OTLP/HTTP receiver → batch → otlphttp exporter → nginx   (the reference, variant a)
  grpc-in   grpc-load → OTLP/gRPC receiver → batch → otlphttp exporter → nginx
  grpc-out  wrk → OTLP/HTTP receiver → batch → otlp (gRPC) exporter → grpc-load sink
  scrub     as http, with the processors of pipelines/scrub-secrets.yaml before the batch
            (the preset file itself, merged with an override for ports and batch size)
  lb        as grpc-out, with the loadbalancing exporter (static resolver, routing by trace id)
            to three grpc-load sinks instead of one otlp exporter: an agent in front of a tier
  durable   as http, with the exporter's sending queue on disk (file_storage, an empty directory
            per run): a durable pipeline, where the batch processor hands requests to the queue
  http-unique  as http, with every request bringing new traces: the reference payloads regrouped
            into traces of 10 spans (scripts/tail-payloads.py) and their trace ids rewritten per
            request (scripts/post-unique-traces.lua) — the baseline of the tail set-ups
  tail      as http-unique, with tail_sampling before the batch: the three policies of
            pipelines/tail-sampling.yaml (errors, slow, 5 % of the rest), decision_wait 15s, so
            that ~200,000 traces wait at a time
  tail-durable  as tail, with the queue on disk: tail sampling journals what it holds

For each: accepted spans/s over window + drain, tracepipe CPU-seconds per million spans, peak RSS,
and the median of each against http's.
Usage: scripts/bench-grpc, scripts/bench-scrub (wrappers that build the release binaries), or
       python3 scripts/bench-setups.py --setups http,scrub [--duration 20] [--rounds 1]
       (TP_PERF=/tmp/prof also records a CPU profile of each set-up: /tmp/prof-<setup>.data)
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "bench"))
import bench as B  # noqa: E402  (the reference harness's helpers: nginx sink, wrk, CPU/RSS readers)

B.METRIC_KEYS["tail_waiting_traces"] = r"otelcol_processor_tail_sampling_sampling_traces_on_memory"
B.METRIC_KEYS["tail_waiting_bytes"] = r"tracepipe_processor_tail_sampling_waiting_bytes"
DECISION_WAIT = 15  # seconds: at this bench's ~15,000 traces/s, about 200,000 traces wait

RECV, GRPC_RECV, SINK, GRPC_SINK, METRICS = 14318, 14317, 14380, 14381, 18888
TP = os.environ.get("TP_BIN") or os.path.join(ROOT, ".build/release/tracepipe")  # TP_BIN: another build (before/after)
LOAD = os.path.join(ROOT, ".build/release/grpc-load")


def scrub_override():
    """Merged over pipelines/scrub-secrets.yaml: the bench's ports, batch size and telemetry."""
    return f"""receivers: {{otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{RECV}}}}}}}}}
processors: {{batch: {{send_batch_size: 8192, timeout: 200ms}}}}
exporters: {{otlphttp/tempo: {{endpoint: http://127.0.0.1:{SINK}, compression: gzip, encoding: proto}}}}
service:
  extensions: []
  telemetry:
    logs: {{level: warn}}
    metrics: {{readers: [{{pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {METRICS}}}}}}}}}]}}
  pipelines: {{traces: {{receivers: [otlp]}}}}
"""


LB_SINKS = [GRPC_SINK, GRPC_SINK + 1, GRPC_SINK + 2]
TAIL = ("tail", "tail-durable")
UNIQUE = ("http-unique",) + TAIL  # set-ups whose requests bring new traces each time
TAIL_PAYLOADS = f"/tmp/tpbench-tail-payloads"
DURABLE_DIR = f"/tmp/tpbench-durable-{os.getpid()}"


def config(setup):
    if setup == "lb":
        hostnames = ", ".join(f"127.0.0.1:{p}" for p in LB_SINKS)
        return f"""receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{RECV}}}}}}}
processors:
  batch: {{send_batch_size: 8192, timeout: 200ms}}
exporters:
  loadbalancing:
    protocol: {{otlp: {{tls: {{insecure: true}}, compression: gzip}}}}
    resolver: {{static: {{hostnames: [{hostnames}]}}}}
service:
  telemetry:
    logs: {{level: warn}}
    metrics: {{readers: [{{pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {METRICS}}}}}}}}}]}}
  pipelines: {{traces: {{receivers: [otlp], processors: [batch], exporters: [loadbalancing]}}}}
"""
    receiver = (f"otlp: {{protocols: {{grpc: {{endpoint: 127.0.0.1:{GRPC_RECV}}}}}}}" if setup == "grpc-in"
                else f"otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{RECV}}}}}}}")
    exporter = (f"otlp: {{endpoint: 127.0.0.1:{GRPC_SINK}, tls: {{insecure: true}}, compression: gzip}}" if setup == "grpc-out"
                else f"otlphttp: {{endpoint: http://127.0.0.1:{SINK}, compression: gzip, encoding: proto}}")
    name = "otlp" if setup == "grpc-out" else "otlphttp"
    storage = ""
    processors = "[tail_sampling, batch]" if setup in TAIL else "[batch]"
    if setup in ("durable", "tail-durable"):
        directory = DURABLE_DIR
        exporter = exporter[:-1] + ", sending_queue: {storage: file_storage}}"
        storage = f"extensions: {{file_storage: {{directory: {directory}, create_directory: true}}}}\n"
    return f"""{storage}receivers:
  {receiver}
processors:
  batch: {{send_batch_size: 8192, timeout: 200ms}}
  tail_sampling:
    decision_wait: {DECISION_WAIT}s
    num_traces: 400000
    decision_cache: {{sampled_cache_size: 100000, non_sampled_cache_size: 100000}}
    policies:
      - {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}
      - {{name: slow, type: latency, latency: {{threshold_ms: 1000}}}}
      - {{name: five-percent-of-the-rest, type: probabilistic, probabilistic: {{sampling_percentage: 5}}}}
exporters:
  {exporter}
service:
  extensions: [{"file_storage" if storage else ""}]
  telemetry:
    logs: {{level: warn}}
    metrics: {{readers: [{{pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {METRICS}}}}}}}}}]}}
  pipelines: {{traces: {{receivers: [otlp], processors: {processors}, exporters: [{name}]}}}}
"""


def metrics():
    return B.scrape_metrics(f"http://127.0.0.1:{METRICS}/metrics") or {}


def wait_exported(max_s=120):
    """Until everything accepted was exported (or nothing moved for 1 s); returns that time."""
    last, changed, t = None, time.time(), time.time()
    while time.time() - t < max_s:
        m = metrics()
        if m.get("exp_sent_spans", 0) >= m.get("recv_accepted_spans", 0) > 0:
            return time.time()
        cur = m.get("exp_sent_spans")
        if cur != last:
            last, changed = cur, time.time()
        elif time.time() - changed > 1.0:
            return changed
        time.sleep(0.05)
    return time.time()


def load(setup, files, seconds, conns):
    if setup == "grpc-in":
        cmd = B.prefix("0") + [LOAD, "send", str(GRPC_RECV), str(seconds), str(conns), "4", *files]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
        line = next((l for l in out.splitlines() if l.startswith("GRPCLOAD ")), None)
        if not line:
            raise RuntimeError(f"grpc-load failed: {out}")
        r = json.loads(line[len("GRPCLOAD "):])
        if r["failed"]:
            B.log(f"grpc-load: {r['failed']} failed calls, last: {r['last_error']}")
        return r["spans"], r["seconds"]
    if setup in UNIQUE:
        env = dict(os.environ, TP_FILES=" ".join(files))
        cmd = B.prefix("0") + ["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds}s", "--timeout", "10s",
                               "-s", os.path.join(ROOT, "scripts", "post-unique-traces.lua"), f"http://127.0.0.1:{RECV}/v1/traces"]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
        line = next((l for l in out.stdout.splitlines() if l.startswith("WRKJSON ")), None)
        if not line:
            raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
        w = json.loads(line[len("WRKJSON "):])
    else:
        w, _ = B.run_wrk(f"http://127.0.0.1:{RECV}/v1/traces", files, "application/x-protobuf", "", conns, 1, seconds, "0", 10)
    return (w["requests"] - w["err_status"]) * 100, w["duration_us"] / 1e6


def run(setup, a):
    if setup in UNIQUE:
        if not os.path.exists(os.path.join(TAIL_PAYLOADS, "req15.pb.offsets")):
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "tail-payloads.py"), TAIL_PAYLOADS, "16"], check=True)
        files = [os.path.join(TAIL_PAYLOADS, f"req{k}.pb") for k in range(16)]
    else:
        files, _, _ = B.payload_files(100, "proto", 16)
    rundir = os.path.join(B.WORK, "runs", f"{time.strftime('%Y%m%dT%H%M%S')}-grpc-{setup}-{os.getpid()}")
    os.makedirs(rundir, exist_ok=True)
    grpc_sinks = LB_SINKS if setup == "lb" else [GRPC_SINK] if setup == "grpc-out" else []
    sinks = ([B.start([LOAD, "sink", str(p)], os.path.join(rundir, f"sink-{p}.log"), "0",
                      env=dict(os.environ, GRPC_SINK_STATS=os.path.join(rundir, f"sink-{p}.json"))) for p in grpc_sinks]
             or [B.start_sink(rundir, SINK, "0", False)])
    for p in grpc_sinks or [SINK]:
        B.wait_port(p, 10)
    shutil.rmtree(DURABLE_DIR, ignore_errors=True)  # each durable run starts with an empty queue
    cfg = os.path.join(rundir, "config.yaml")
    open(cfg, "w").write(scrub_override() if setup == "scrub" else config(setup))
    configs = ([os.path.join(ROOT, "pipelines", "scrub-secrets.yaml")] if setup == "scrub" else []) + [cfg]
    args = " ".join(f"--config {shlex.quote(c)}" for c in configs)
    # TP_PERF=/tmp/prof: record a CPU profile of tracepipe per set-up (/tmp/prof-<setup>.data);
    # its figures then include perf's own overhead.
    profile = (f"perf record -q -e cpu-clock -g -o {shlex.quote(os.environ['TP_PERF'] + '-' + setup + '.data')} "
               if os.environ.get("TP_PERF") else "")
    tp = B.start(f"{profile}{shlex.quote(TP)} {args}", os.path.join(rundir, "tracepipe.log"), "1", shell=True)
    if not B.wait_port(GRPC_RECV if setup == "grpc-in" else RECV, 30, tp):
        B.cleanup()
        sys.exit(f"tracepipe did not start; see {rundir}/tracepipe.log")
    load(setup, files, a.warmup, a.conns)
    wait_exported()
    # Tail sampling hands traces on a decision_wait after they came: the warm-up's are decided
    # (and their CPU spent) before the window, the window's after it, in the drain.
    if setup in TAIL:
        time.sleep(DECISION_WAIT + 1)
        wait_exported()
    m0, c0, t0 = metrics(), B.tree_cpu_s(tp.pid), time.time()
    sent_by_load, window = load(setup, files, a.duration, a.conns)
    at_end = metrics()
    waiting, waiting_bytes = at_end.get("tail_waiting_traces"), at_end.get("tail_waiting_bytes")
    rss_at_end = B.vm_rss_kb(B.proc_tree(tp.pid))
    if setup in TAIL:
        time.sleep(DECISION_WAIT + 1)
    t_drained = wait_exported()
    m1, c1 = metrics(), B.tree_cpu_s(tp.pid)
    hwm = B.vm_hwm_kb(B.proc_tree(tp.pid))
    B.stop(tp)
    shutil.rmtree(DURABLE_DIR, ignore_errors=True)
    for sink in sinks:
        B.stop(sink)
    accepted = m1.get("recv_accepted_spans", 0) - m0.get("recv_accepted_spans", 0)
    exported = m1.get("exp_sent_spans", 0) - m0.get("exp_sent_spans", 0)
    # Spans/s of a tail set-up are those accepted in the window (its exports trail by
    # decision_wait); its CPU covers deciding and exporting them too.
    elapsed = window if setup in TAIL else max(window, t_drained - t0)
    res = {
        "setup": setup, "spans_s": round(accepted / elapsed), "ingest_spans_s": round(sent_by_load / window),
        "cpu_s_per_mspans": round((c1 - c0) / (accepted / 1e6), 2) if accepted else None,
        "cores": round((c1 - c0) / elapsed, 2),
        "spans_s_per_core": round(accepted / (c1 - c0)) if c1 > c0 else None, "exported_over_accepted": round(exported / accepted, 4) if accepted else None,
        "peak_rss_mb": round(hwm / 1024, 1), "rundir": rundir, "waiting_traces": waiting,
    }
    print(f"{setup:>8}: {res['spans_s']:>8,} spans/s  {res['cpu_s_per_mspans']:>6} CPU-s/M spans  "
          f"{res['cores']} cores ({res['spans_s_per_core']:,} spans/s per core)  exported/accepted {res['exported_over_accepted']}  peak RSS {res['peak_rss_mb']} MB"
          + (f"  at the window's end {int(waiting):,} traces waiting, RSS {rss_at_end / 1024:,.0f} MB" if waiting else "")
          + (f", {waiting_bytes / 2**20:,.0f} MiB by the byte budget's count" if waiting_bytes else ""), flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--setups", default="http,grpc-in,grpc-out")
    a = ap.parse_args()
    results = {}
    try:
        for _ in range(a.rounds):
            for setup in a.setups.split(","):
                results.setdefault(setup, []).append(run(setup, a))
    finally:
        B.cleanup()
    med = lambda xs: sorted(xs)[len(xs) // 2]
    # The loadbalancing set-up is compared with the plain otlp exporter when both ran.
    for setup, rs in results.items():
        base_name = ("grpc-out" if setup == "lb" and "grpc-out" in results
                     else "tail" if setup == "tail-durable" and "tail" in results
                     else "http-unique" if setup == "tail" and "http-unique" in results else "http")
        base = results.get(base_name)
        s, c = med([r["spans_s"] for r in rs]), med([r["cpu_s_per_mspans"] for r in rs])
        pc = med([r["spans_s_per_core"] for r in rs])
        rel = f", {pc:,} spans/s per core"
        if base and setup != base_name:
            bs, bc = med([r["spans_s"] for r in base]), med([r["cpu_s_per_mspans"] for r in base])
            bpc = med([r["spans_s_per_core"] for r in base])
            rel += f"  ({s / bs:.0%} of {base_name}'s spans/s, {pc / bpc:.0%} of its spans/s per core, {c / bc:.0%} of its CPU per span)"
        print(f"median {setup:>8}: {s:,} spans/s, {c} CPU-s/M spans{rel}")


if __name__ == "__main__":
    main()
