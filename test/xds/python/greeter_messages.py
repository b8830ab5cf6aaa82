"""The greeter request and reply, each one string field (number 1), encoded by hand.

Debian's python3-grpcio ships no protoc and no generated stubs; a message this small needs none,
and the Node side (test/xds/greeter-messages.ts) encodes the same bytes the same way, so both
clients send identical requests.
"""

SERVICE = "hw.Greeter"


def encode_string_message(text: str) -> bytes:
    body = text.encode("utf-8")
    return b"\x0a" + _encode_varint(len(body)) + body


def decode_string_message(data: bytes) -> str:
    at = 0
    text = ""
    while at < len(data):
        tag, at = _decode_varint(data, at)
        wire_type = tag & 7
        if wire_type == 2:
            length, at = _decode_varint(data, at)
            if tag >> 3 == 1:
                text = data[at : at + length].decode("utf-8")
            at += length
        elif wire_type == 0:
            _, at = _decode_varint(data, at)
        else:
            raise ValueError(f"greeter message: unexpected wire type {wire_type}")
    return text


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _decode_varint(data: bytes, at: int):
    value = 0
    shift = 0
    while True:
        if at >= len(data) or shift > 28:
            raise ValueError("greeter message: bad varint")
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, at
        shift += 7
