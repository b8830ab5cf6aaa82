"""gRPC C-core (Debian python3-grpcio) as an xDS client, driven by the tests over JSON lines.

Run with /usr/bin/python3 and GRPC_XDS_BOOTSTRAP set. Reads {id, target, method, name, deadlineMs}
lines on stdin and answers {id, ok, reply} or {id, ok: false, code, details} on stdout. Channels are
kept per target, so an xds:/// channel follows the control plane's updates instead of starting over.
Generic stubs on raw bytes (channel.unary_unary without serializers): no generated code needed.
"""
import json
import sys

import grpc

from greeter_messages import SERVICE, decode_string_message, encode_string_message


def emit(line):
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def main():
    channels = {}
    emit({"event": "ready", "grpc": grpc.__version__})
    for raw in sys.stdin:
        req = json.loads(raw)
        channel = channels.get(req["target"])
        if channel is None:
            channel = channels[req["target"]] = grpc.insecure_channel(req["target"])
        call = channel.unary_unary(f"/{SERVICE}/{req['method']}")
        try:
            reply = call(encode_string_message(req["name"]), timeout=req.get("deadlineMs", 5000) / 1000)
            emit({"id": req["id"], "ok": True, "reply": decode_string_message(reply)})
        except grpc.RpcError as err:
            emit({"id": req["id"], "ok": False, "code": err.code().name, "details": err.details()})
    for channel in channels.values():
        channel.close()


if __name__ == "__main__":
    main()
