// The greeter service the real-client tests call: /hw.Greeter/SayHello (allowed by the RBAC policy)
// and /hw.Greeter/Secret (denied). Request and reply are each one string field (field 1), encoded
// by hand: a message this small needs no .proto, no code generator and no build step, and the
// Python side (Debian's python3-grpcio ships no protoc) encodes the same bytes the same way, so
// both clients send identical requests.

export const GREETER_SERVICE = 'hw.Greeter';
export const SAY_HELLO_PATH = `/${GREETER_SERVICE}/SayHello`;
export const SECRET_PATH = `/${GREETER_SERVICE}/Secret`;

/** A message whose only field, number 1, is the string `text` (wire type 2, length-delimited). */
export function encodeStringMessage(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(body.length), body]);
}

/** Reads field 1 (a string) of a message; other fields are skipped, as protobuf requires. */
export function decodeStringMessage(bytes: Uint8Array): string {
  let at = 0;
  let text = '';
  while (at < bytes.length) {
    const [tag, afterTag] = decodeVarint(bytes, at);
    const wireType = tag & 7;
    at = afterTag;
    if (wireType === 2) {
      const [length, afterLength] = decodeVarint(bytes, at);
      if (tag >>> 3 === 1) text = Buffer.from(bytes.subarray(afterLength, afterLength + length)).toString('utf8');
      at = afterLength + length;
    } else if (wireType === 0) {
      at = decodeVarint(bytes, at)[1];
    } else {
      throw new Error(`greeter message: unexpected wire type ${wireType}`);
    }
  }
  return text;
}

function encodeVarint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function decodeVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const b = bytes[at++];
    if (b === undefined) throw new Error('greeter message: truncated varint');
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [value >>> 0, at];
  }
  throw new Error('greeter message: varint too long');
}
