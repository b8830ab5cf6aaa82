"""An xDS-enabled greeter server (gRFC A36) on gRPC C-core (Debian python3-grpcio).

Usage: /usr/bin/python3 xds_server.py PORT NAME, with GRPC_XDS_BOOTSTRAP naming a bootstrap that has
server_listener_resource_name_template. The server serves once the control plane sent the Listener
for 127.0.0.1:PORT, and enforces the RBAC http filter in it (on by default in C-core). Stops when
stdin closes or on SIGTERM.
"""
import json
import signal
import sys
import threading
from concurrent import futures

import grpc

from greeter_messages import SERVICE, decode_string_message, encode_string_message


def emit(line):
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def handler(method, backend_name):
    def handle(request, context):
        return encode_string_message(f"{method} {decode_string_message(request)} from {backend_name}")

    # No serializers: the handler sees and returns raw bytes.
    return grpc.unary_unary_rpc_method_handler(handle)


def main():
    port, backend_name = sys.argv[1], sys.argv[2]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), xds=True)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {m: handler(m, backend_name) for m in ("SayHello", "Secret")}),)
    )
    # Returns -1 for xDS servers (the port is bound once the Listener arrives); that is expected.
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    emit({"event": "started", "port": int(port)})
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stopped.set()), daemon=True).start()
    stopped.wait()
    server.stop(grace=None)


if __name__ == "__main__":
    main()
