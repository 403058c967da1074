"""A real grpcio OTLP server standing in for Tempo: tracepipe's `otlp` exporter sends to it. Every
span it receives is appended to a JSON-lines file with its ids, name and the call's tenant header,
so check.py can compare it with what the clients sent."""
import json
import sys
import threading
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

port, out_path = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()


class Sink(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):
        tenant = dict(context.invocation_metadata()).get("x-scope-orgid")
        with lock, open(out_path, "a") as f:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        f.write(json.dumps({"trace_id": sp.trace_id.hex(), "span_id": sp.span_id.hex(),
                                            "name": sp.name, "tenant": tenant}) + "\n")
        return trace_service_pb2.ExportTraceServiceResponse()


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Sink(), server)
server.add_insecure_port(f"127.0.0.1:{port}")
server.start()
print(f"grpc sink on 127.0.0.1:{port}", flush=True)
server.wait_for_termination()
