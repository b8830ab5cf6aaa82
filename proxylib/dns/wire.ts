// The DNS wire format as the proxy needs it. dns-packet (5.6.1) decodes whole messages: it checks a
// query is well-formed (else FORMERR) and gives an answer's RCODE, flags and record types. The proxy
// goes below it in three places, each for a reason:
//  - Names are read here (readName): dns-packet joins labels with '.' without escaping, so a label
//    that itself holds a dot ("api.stripe" + "com") would read as a different name
//    ("api.stripe.com") — a policy bypass for a name matcher. Here such bytes are escaped as miekg/dns
//    (and so Cilium's proxy) presents them (`\.`, `\DDD`), and no matcher accepts an escaped name.
//  - Queries and answers are forwarded as the bytes that came in, with only the id rewritten
//    (withId): re-encoding would drop what dns-packet does not model and change EDNS0 options,
//    name case (0x20 randomization) and compression — "as without the proxy".
//  - Replies the proxy makes itself (REFUSED, NXDOMAIN, SERVFAIL, FORMERR) echo the question
//    byte for byte (buildReply), which dns-packet cannot do from a decoded name.
import dnsPacket from 'dns-packet';

export const HEADER_BYTES = 12;
/** RFC 1035 §2.3.4: 255 octets per name on the wire. */
const MAX_NAME_WIRE_BYTES = 255;
const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const CLASS_IN = 1;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type SynthesizedRcode = keyof typeof RCODE;

/** The UDP payload size the proxy advertises in the OPT of its own replies (the DNS flag day 2020 value). */
export const PROXY_EDNS_UDP_SIZE = 1232;

export interface DnsHeader {
  id: number;
  /** QR: a response. */
  response: boolean;
  opcode: number;
  truncated: boolean;
  recursionDesired: boolean;
  checkingDisabled: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

/** The fixed header; undefined when the message is shorter than one. */
export function readHeader(msg: Buffer): DnsHeader | undefined {
  if (msg.length < HEADER_BYTES) return undefined;
  const flags = msg.readUInt16BE(2);
  return {
    id: msg.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    truncated: (flags & 0x0200) !== 0,
    recursionDesired: (flags & 0x0100) !== 0,
    checkingDisabled: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    qdcount: msg.readUInt16BE(4),
    ancount: msg.readUInt16BE(6),
    nscount: msg.readUInt16BE(8),
    arcount: msg.readUInt16BE(10),
  };
}

export class DnsWireError extends Error {}

/**
 * Reads a name at `offset`: presentation form without the trailing dot ('' for the root), labels as
 * the bytes are, with `.`/`\` escaped and bytes outside 0x21–0x7e as `\DDD` (miekg/dns's form).
 * Compression pointers must point backwards (RFC 1035 §4.1.4), which bounds the walk. `end` is the
 * offset after the name where it started (after the first pointer, if any).
 */
export function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  let end: number | undefined;
  let wireBytes = 0;
  let lowestJump = offset;
  for (;;) {
    if (at >= msg.length) throw new DnsWireError('name runs past the message');
    const len = msg[at]!;
    if (len === 0) {
      end ??= at + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= msg.length) throw new DnsWireError('compression pointer runs past the message');
      const target = ((len & 0x3f) << 8) | msg[at + 1]!;
      if (target >= lowestJump) throw new DnsWireError('compression pointer does not point backwards');
      end ??= at + 2;
      lowestJump = target;
      at = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsWireError(`label type 0x${(len & 0xc0).toString(16)} is not supported`);
    if (at + 1 + len > msg.length) throw new DnsWireError('label runs past the message');
    wireBytes += len + 1;
    if (wireBytes + 1 > MAX_NAME_WIRE_BYTES) throw new DnsWireError('name is longer than 255 octets');
    labels.push(escapeLabel(msg, at + 1, len));
    at += 1 + len;
  }
  return { name: labels.join('.'), end };
}

function escapeLabel(msg: Buffer, start: number, len: number): string {
  let out = '';
  for (let i = start; i < start + len; i++) {
    const b = msg[i]!;
    if (b === 0x2e || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b < 0x21 || b > 0x7e) out += `\\${b.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/** Lower-case (ASCII only, as DNS compares) without trailing dot: the form the observer and flows use. */
export function displayName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export interface QueryFacts {
  header: DnsHeader;
  /** Question[0]'s name (readName's form: any case, no trailing dot). */
  name: string;
  qtype: number;
  qclass: number;
  /** Offset after Question[0] (its bytes are msg[12, questionEnd)). */
  questionEnd: number;
  /** The query carried an OPT record (EDNS0): the proxy's own replies carry one too (RFC 6891 §7). */
  edns: boolean;
  /** Question[0]'s type name ('A', 'AAAA', ...; 'UNKNOWN_<n>' for types dns-packet does not name). */
  qtypeName: string;
}

export type ParsedQuery =
  | { ok: true; query: QueryFacts }
  /** The header is readable: answer FORMERR with its id. */
  | { ok: false; header: DnsHeader; error: string }
  /** Not even a header, or a response: drop it. */
  | { ok: false; header: undefined; error: string };

/** A query as the proxy decides it; never throws. */
export function parseQuery(msg: Buffer): ParsedQuery {
  const header = readHeader(msg);
  if (!header) return { ok: false, header: undefined, error: `${msg.length} bytes, shorter than a DNS header` };
  // A response sent to the proxy is not a query; answering it could make two proxies talk forever.
  if (header.response) return { ok: false, header: undefined, error: 'a response (QR set), not a query' };
  if (header.qdcount === 0) return { ok: false, header, error: 'no question' };
  let decoded: dnsPacket.DecodedPacket;
  try {
    decoded = dnsPacket.decode(msg);
  } catch (err) {
    return { ok: false, header, error: `malformed: ${(err as Error).message}` };
  }
  try {
    const { name, end } = readName(msg, HEADER_BYTES);
    if (end + 4 > msg.length) return { ok: false, header, error: 'question runs past the message' };
    const qtype = msg.readUInt16BE(end);
    const qclass = msg.readUInt16BE(end + 2);
    const edns = (decoded.additionals ?? []).some((r) => r.type === 'OPT');
    const qtypeName = decoded.questions?.[0]?.type ?? `UNKNOWN_${qtype}`;
    return { ok: true, query: { header, name, qtype, qclass, questionEnd: end + 4, edns, qtypeName } };
  } catch (err) {
    return { ok: false, header, error: `malformed question: ${(err as Error).message}` };
  }
}

/** A copy of `msg` with another id (the forwarded query, or the answer given back to the client). */
export function withId(msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(id & 0xffff, 0);
  return out;
}

/**
 * A reply the proxy makes itself: the query's id, opcode, RD and CD, QR and RA set, the RCODE, the
 * question echoed byte for byte (none for FORMERR of an unreadable question), and an OPT record when
 * the query had one (as miekg/dns's SetRcode plus EDNS0, what Cilium answers).
 */
export function buildReply(query: Buffer, header: DnsHeader, rcode: SynthesizedRcode, questionEnd: number | undefined, edns: boolean): Buffer {
  const question = questionEnd !== undefined ? query.subarray(HEADER_BYTES, questionEnd) : Buffer.alloc(0);
  const opt = edns ? optRecord() : Buffer.alloc(0);
  const out = Buffer.alloc(HEADER_BYTES + question.length + opt.length);
  out.writeUInt16BE(header.id, 0);
  const flags = 0x8000 | (header.opcode << 11) | (header.recursionDesired ? 0x0100 : 0) | 0x0080 | (header.checkingDisabled ? 0x0010 : 0) | RCODE[rcode];
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(question.length > 0 ? 1 : 0, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(edns ? 1 : 0, 10);
  question.copy(out, HEADER_BYTES);
  opt.copy(out, HEADER_BYTES + question.length);
  return out;
}

/** An OPT pseudo-record (RFC 6891 §6.1.2) advertising PROXY_EDNS_UDP_SIZE, version 0, no options. */
function optRecord(): Buffer {
  const opt = Buffer.alloc(11);
  opt[0] = 0; // root owner
  opt.writeUInt16BE(TYPE_OPT, 1);
  opt.writeUInt16BE(PROXY_EDNS_UDP_SIZE, 3);
  // TTL (extended RCODE, version, DO and Z) and RDLENGTH stay 0.
  return opt;
}

/** The header RCODE's name as dns-packet names it (rcodes.js), RCODE_<n> beyond these. */
const RCODE_NAMES: readonly string[] = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

export interface AnswerFacts {
  header: DnsHeader;
  /** RCODE name ('NOERROR', 'NXDOMAIN', ...; 'RCODE_<n>' when dns-packet has no name). */
  rcode: string;
  /** Question[0]'s name as the answer carries it (readName's form), '' when the answer has no question. */
  questionName: string;
  /** The query name and the CNAME targets that follow from it, lower-case, in chain order. */
  names: string[];
  /** A / AAAA records whose owner is one of `names`. */
  addresses: Array<{ ip: string; ttl: number; name: string }>;
}

/**
 * An upstream answer: RCODE, the CNAME chain from the query name and its addresses. Records outside
 * the chain (another name's A record an answer carries) are left out: they were not asked for and a
 * resolver has no business vouching for them. Throws DnsWireError on a malformed answer.
 */
export function parseAnswer(msg: Buffer, opts: { validate?: boolean } = {}): AnswerFacts {
  const header = readHeader(msg);
  if (!header) throw new DnsWireError('shorter than a DNS header');
  // With `validate` (the default; what learning needs) the whole message must decode with
  // dns-packet, so no address is learned from an answer a client might read differently. Without
  // it (a flow record only, nothing learned) the question and answer sections are walked here and
  // the rest is not looked at: decoding every record of every answer costs more than the walk.
  if (opts.validate ?? true) {
    try {
      dnsPacket.decode(msg);
    } catch (err) {
      throw new DnsWireError(`malformed answer: ${(err as Error).message}`);
    }
  }
  const rcode = RCODE_NAMES[header.rcode] ?? `RCODE_${header.rcode}`;
  let at = HEADER_BYTES;
  let questionName = '';
  for (let i = 0; i < header.qdcount; i++) {
    const q = readName(msg, at);
    if (i === 0) questionName = q.name;
    at = q.end + 4;
  }
  const records: Array<{ owner: string; type: number; ttl: number; rdata: number; rdlength: number }> = [];
  for (let i = 0; i < header.ancount; i++) {
    const owner = readName(msg, at);
    at = owner.end;
    if (at + 10 > msg.length) throw new DnsWireError('record runs past the message');
    const type = msg.readUInt16BE(at);
    const klass = msg.readUInt16BE(at + 2);
    const ttl = msg.readUInt32BE(at + 4);
    const rdlength = msg.readUInt16BE(at + 8);
    at += 10;
    if (at + rdlength > msg.length) throw new DnsWireError('record data runs past the message');
    if (klass === CLASS_IN) records.push({ owner: displayName(owner.name), type, ttl: ttl > 0x7fffffff ? 0 : ttl, rdata: at, rdlength });
    at += rdlength;
  }
  const names: string[] = [];
  const addresses: AnswerFacts['addresses'] = [];
  if (questionName !== '' || header.qdcount > 0) {
    // Follow CNAMEs from the query name; each name once, so a CNAME loop ends.
    let current = displayName(questionName);
    const seen = new Set<string>();
    while (!seen.has(current)) {
      seen.add(current);
      names.push(current);
      const cname = records.find((r) => r.type === TYPE_CNAME && r.owner === current);
      if (!cname) break;
      current = displayName(readName(msg, cname.rdata).name);
    }
    for (const r of records) {
      if (!seen.has(r.owner)) continue;
      if (r.type === TYPE_A && r.rdlength === 4) addresses.push({ ip: formatIpv4(msg, r.rdata), ttl: r.ttl, name: r.owner });
      else if (r.type === TYPE_AAAA && r.rdlength === 16) addresses.push({ ip: formatIpv6(msg, r.rdata), ttl: r.ttl, name: r.owner });
    }
  }
  return { header, rcode, questionName, names, addresses };
}

function formatIpv4(msg: Buffer, at: number): string {
  return `${msg[at]}.${msg[at + 1]}.${msg[at + 2]}.${msg[at + 3]}`;
}

/** RFC 5952 text (what dns-packet's ip-codec and node print). */
function formatIpv6(msg: Buffer, at: number): string {
  const words = Array.from({ length: 8 }, (_, i) => msg.readUInt16BE(at + 2 * i));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
