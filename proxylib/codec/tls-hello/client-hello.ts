// Reads SNI and ALPN from a TLS ClientHello in the first bytes of a connection (the tls_inspector
// listener filter), without terminating TLS. Hand-written: Node's tls module only exposes SNI inside
// a handshake it runs itself (too late to choose the filter chain and its certificates), and no
// maintained npm package parses a ClientHello without native code.
//
// Never throws on hostile bytes: every length is checked against what is there, every loop is
// bounded by the input length, and the input is bounded by `maxBytes`.
//
//   parseClientHello(bytes, maxBytes?) →
//     { kind: 'tls', serverName, alpn }   serverName: the first host_name of server_name, lower-cased
//                                           ('' when none); alpn: protocol names in offer order ([] when none)
//     { kind: 'not_tls' }                 the first bytes are not a TLS handshake record (plain text, h2c, …)
//     { kind: 'need_more', needed? }      a prefix of a ClientHello: read more and call again with all bytes
//     { kind: 'malformed', reason }       starts like TLS but is not a valid ClientHello (or is too large)
//
// Envoy's tls_inspector is BoringSSL-based; as there, a ClientHello may span several handshake
// records (TLS 1.3 hellos with post-quantum key shares grow), and the whole hello is bounded:
// default 64 KiB like Envoy's TLS_MAX_CLIENT_HELLO (a single record carries at most 16 KiB).

export type ClientHelloResult =
  | { kind: 'tls'; serverName: string; alpn: string[]; /** bytes of the records holding the hello */ length: number }
  | { kind: 'not_tls' }
  | { kind: 'need_more'; /** total bytes needed when known (the hello's records), else undefined */ needed: number | undefined }
  | { kind: 'malformed'; reason: string };

export const DEFAULT_MAX_CLIENT_HELLO_BYTES = 64 * 1024;

const RECORD_HEADER = 5;
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 1;
const MAX_RECORD_PAYLOAD = 16384;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

export function parseClientHello(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_CLIENT_HELLO_BYTES): ClientHelloResult {
  if (bytes.length === 0) return { kind: 'need_more', needed: undefined };
  if (bytes[0] !== HANDSHAKE) return { kind: 'not_tls' };
  if (bytes.length >= 2 && bytes[1] !== 0x03) return { kind: 'not_tls' };
  if (bytes.length >= 3 && bytes[2]! > 0x04) return { kind: 'not_tls' };
  // Decide as early as the first record's first 4 payload bytes allow: not a ClientHello, or too big.
  if (bytes.length >= RECORD_HEADER + 4 && ((bytes[3]! << 8) | bytes[4]!) >= 4) {
    if (bytes[RECORD_HEADER] !== CLIENT_HELLO) return { kind: 'malformed', reason: `handshake type ${bytes[RECORD_HEADER]} is not ClientHello` };
    const claimed = 4 + ((bytes[RECORD_HEADER + 1]! << 16) | (bytes[RECORD_HEADER + 2]! << 8) | bytes[RECORD_HEADER + 3]!);
    if (claimed > maxBytes) return { kind: 'malformed', reason: `ClientHello of ${claimed} bytes is larger than ${maxBytes}` };
  }
  // Gather the handshake message from consecutive handshake records.
  const handshake: Uint8Array[] = [];
  let handshakeBytes = 0;
  let needHandshake = -1; // 4 + handshake length, once known
  let pos = 0;
  while (needHandshake < 0 || handshakeBytes < needHandshake) {
    if (pos + RECORD_HEADER > bytes.length) return { kind: 'need_more', needed: undefined };
    if (bytes[pos] !== HANDSHAKE || bytes[pos + 1] !== 0x03) return { kind: 'malformed', reason: 'a non-handshake record inside the ClientHello' };
    const recordLength = (bytes[pos + 3]! << 8) | bytes[pos + 4]!;
    if (recordLength === 0 || recordLength > MAX_RECORD_PAYLOAD) return { kind: 'malformed', reason: `record length ${recordLength}` };
    const recordEnd = pos + RECORD_HEADER + recordLength;
    if (recordEnd > maxBytes) return { kind: 'malformed', reason: `ClientHello larger than ${maxBytes} bytes` };
    if (recordEnd > bytes.length) return { kind: 'need_more', needed: needHandshake < 0 ? recordEnd : undefined };
    handshake.push(bytes.subarray(pos + RECORD_HEADER, recordEnd));
    handshakeBytes += recordLength;
    pos = recordEnd;
    if (needHandshake < 0 && handshakeBytes >= 4) {
      const first = concat(handshake, 4);
      if (first[0] !== CLIENT_HELLO) return { kind: 'malformed', reason: `handshake type ${first[0]} is not ClientHello` };
      const length = (first[1]! << 16) | (first[2]! << 8) | first[3]!;
      needHandshake = 4 + length;
      if (needHandshake > maxBytes) return { kind: 'malformed', reason: `ClientHello larger than ${maxBytes} bytes` };
    }
  }
  // Bytes of the last record after the ClientHello would be another handshake message in the same
  // record — a ClientHello is alone in its flight, so that is malformed.
  if (handshakeBytes !== needHandshake) return { kind: 'malformed', reason: 'bytes after the ClientHello in its record' };
  const body = concat(handshake, handshakeBytes).subarray(4);
  const parsed = parseBody(body);
  if (typeof parsed === 'string') return { kind: 'malformed', reason: parsed };
  return { kind: 'tls', serverName: parsed.serverName, alpn: parsed.alpn, length: pos };
}

function concat(parts: Uint8Array[], atLeast: number): Uint8Array {
  if (parts.length === 1 || parts[0]!.length >= atLeast) return parts[0]!;
  return Buffer.concat(parts);
}

/** A cursor over the hello body; every read checks bounds and returns -1 / undefined past the end. */
class Reader {
  constructor(
    readonly b: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}
  u8(): number {
    return this.pos + 1 <= this.end ? this.b[this.pos++]! : -1;
  }
  u16(): number {
    if (this.pos + 2 > this.end) return -1;
    const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }
  /** A sub-reader over the next n bytes, or undefined. */
  take(n: number): Reader | undefined {
    if (n < 0 || this.pos + n > this.end) return undefined;
    const r = new Reader(this.b, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
  get left(): number {
    return this.end - this.pos;
  }
}

function parseBody(body: Uint8Array): { serverName: string; alpn: string[] } | string {
  const r = new Reader(body, 0, body.length);
  const major = r.u8();
  const minor = r.u8();
  if (major !== 3 || minor < 0 || minor > 4) return `client_version ${major}.${minor}`;
  if (!r.take(32)) return 'truncated random';
  const sessionIdLength = r.u8();
  if (sessionIdLength < 0 || sessionIdLength > 32 || !r.take(sessionIdLength)) return 'bad session_id';
  const suitesLength = r.u16();
  if (suitesLength < 2 || suitesLength % 2 !== 0 || !r.take(suitesLength)) return 'bad cipher_suites';
  const compressionLength = r.u8();
  if (compressionLength < 1 || !r.take(compressionLength)) return 'bad compression_methods';
  let serverName = '';
  let alpn: string[] = [];
  if (r.left === 0) return { serverName, alpn }; // no extensions (pre-TLS 1.2 clients)
  const extensionsLength = r.u16();
  const extensions = r.take(extensionsLength);
  if (!extensions || r.left !== 0) return 'bad extensions length';
  const seen = new Set<number>();
  while (extensions.left > 0) {
    const type = extensions.u16();
    const length = extensions.u16();
    const data = extensions.take(length);
    if (type < 0 || !data) return 'truncated extension';
    if (seen.has(type)) return `extension ${type} twice`;
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const name = parseServerName(data);
      if (name === undefined) return 'bad server_name extension';
      serverName = name;
    } else if (type === EXT_ALPN) {
      const list = parseAlpn(data);
      if (list === undefined) return 'bad application_layer_protocol_negotiation extension';
      alpn = list;
    }
  }
  return { serverName, alpn };
}

/** RFC 6066 §3: the first host_name, lower-cased; undefined when malformed. */
function parseServerName(r: Reader): string | undefined {
  if (r.left === 0) return ''; // an empty extension (as in a ServerHello) carries no name
  const listLength = r.u16();
  const list = r.take(listLength);
  if (!list || r.left !== 0 || listLength === 0) return undefined;
  let name: string | undefined;
  while (list.left > 0) {
    const nameType = list.u8();
    const length = list.u16();
    const value = list.take(length);
    if (nameType < 0 || !value) return undefined;
    if (nameType === 0 && name === undefined) {
      if (length === 0 || length > 255) return undefined;
      let text = '';
      for (let i = value.pos; i < value.end; i++) {
        const c = value.b[i]!;
        // Host names are ASCII letters, digits, '-', '.', '_' (seen in the wild), and '*' never.
        if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f)) return undefined;
        text += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
      }
      name = text;
    }
  }
  return name ?? '';
}

/** RFC 7301: ProtocolNameList, each name 1..255 bytes (returned as latin1 strings). */
function parseAlpn(r: Reader): string[] | undefined {
  const listLength = r.u16();
  const list = r.take(listLength);
  if (!list || r.left !== 0 || listLength < 2) return undefined;
  const out: string[] = [];
  while (list.left > 0) {
    const length = list.u8();
    const value = list.take(length);
    if (length < 1 || !value) return undefined;
    out.push(Buffer.from(value.b.subarray(value.pos, value.end)).toString('latin1'));
  }
  return out;
}
