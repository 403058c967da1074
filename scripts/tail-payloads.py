#!/usr/bin/env python3
"""The reference payloads (../shared/bench, 100-span OTLP protobuf requests) regrouped for tail
sampling: 10 traces of 10 spans per request (a root and nine children within its 100 ms), an
error on 1 trace in 100 (the reference marks every 5xx span, which would keep most traces), 1
trace in 100 slower than a second, and for each request the
byte offsets of its trace ids' first 8 bytes, which scripts/post-unique-traces.lua rewrites per
request so that every request brings new traces (as real traffic does; the reference's 16
requests repeated would be the same traces again and again).

Usage: tail-payloads.py OUT_DIR [COUNT]   (writes OUT_DIR/req<k>.pb and req<k>.pb.offsets)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
import bench as B  # noqa: E402
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2  # noqa: E402

MARKER = bytes.fromhex("7a11ba5e7a11ba5e")  # the 8 bytes the load generator replaces


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    os.makedirs(out, exist_ok=True)
    files, _, _ = B.payload_files(100, "proto", count)
    for k, path in enumerate(files):
        req = trace_service_pb2.ExportTraceServiceRequest()
        req.ParseFromString(open(path, "rb").read())
        n = 0
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    trace = n // 10
                    tid = MARKER + (k << 32 | trace).to_bytes(8, "big")
                    span.trace_id = tid
                    root_id = ((k << 32 | trace) << 8 | 1).to_bytes(8, "big")
                    if n % 10 == 0:
                        span.span_id = root_id
                        span.parent_span_id = b""
                    else:
                        span.parent_span_id = root_id
                        span.span_id = ((k << 32 | trace) << 8 | (n % 10 + 1)).to_bytes(8, "big")
                    # Times within the trace's root (spans of different reference traces would
                    # otherwise span minutes, and every trace would look slow).
                    if n % 10 == 0:
                        base = span.start_time_unix_nano
                        slow = trace == 1 and k % 10 == 0
                        span.end_time_unix_nano = base + (1_500_000_000 if slow else 100_000_000)
                    else:
                        span.start_time_unix_nano = base + (n % 10) * 5_000_000
                        span.end_time_unix_nano = span.start_time_unix_nano + 4_000_000
                    if span.status.code == 2 and not (trace == 0 and k % 10 == 0):
                        span.status.code = 0
                        span.status.message = ""
                    n += 1
        body = req.SerializeToString()
        offsets, at = [], body.find(MARKER)
        while at >= 0:
            offsets.append(at)
            at = body.find(MARKER, at + 8)
        assert len(offsets) == n, (len(offsets), n)
        with open(os.path.join(out, f"req{k}.pb"), "wb") as f:
            f.write(body)
        with open(os.path.join(out, f"req{k}.pb.offsets"), "w") as f:
            f.write(" ".join(str(o) for o in offsets))
    print(out)


if __name__ == "__main__":
    main()
