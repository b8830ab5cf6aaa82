// Queries to resolvers over UDP, from a small pool of connect()ed sockets per resolver. A connected
// socket only receives datagrams from the resolver's address, and an answer must carry our id, QR
// and the question we sent (any case); anything else is ignored and the wait goes on.
//
// Why a pool and not a socket per query (what Cilium's proxy does, miekg/dns Exchange dialing per
// request): a socket per query measured ~13k exchanges/s against dnsmasq on loopback, the pool
// several times that, and the issue asks for at least half of direct throughput. Spoofing resistance
// (RFC 5452) comes from the random 16-bit id plus the source port: each socket is retired after
// MAX_QUERIES_PER_SOCKET queries (a new one gets a fresh ephemeral port), so ports keep changing
// while a socket's cost is shared by that many queries.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { UpstreamFailure } from './query-handler.js';
import { HEADER_BYTES, readHeader } from './wire.js';

/** Sockets in use per resolver at a time. */
export const SOCKETS_PER_RESOLVER = 4;
/** Queries one socket sends before it is retired (closed once its last answer is in). */
export const MAX_QUERIES_PER_SOCKET = 64;
/** A socket with nothing in flight closes after this. */
const IDLE_CLOSE_MS = 5_000;

/** A random 16-bit query id (crypto: a predictable id is what off-path spoofing needs). */
export function randomQueryId(): number {
  return randomInt(0, 0x10000);
}

interface Pending {
  query: Buffer;
  question: Buffer;
  resolve(answer: Buffer): void;
  reject(err: UpstreamFailure): void;
  timer: NodeJS.Timeout;
}

class UpstreamSocket {
  readonly socket: dgram.Socket;
  readonly pending = new Map<number, Pending>();
  readonly connected: Promise<void>;
  uses = 0;
  retired = false;
  private closed = false;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly resolver: { address: string; port: number },
    private readonly onGone: (s: UpstreamSocket) => void,
  ) {
    this.socket = dgram.createSocket({ type: isIPv6(resolver.address) ? 'udp6' : 'udp4' });
    // The pool must not keep a process alive that has nothing else to do.
    this.socket.unref();
    this.socket.on('message', (msg) => this.onAnswer(msg));
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      // On a connected socket the kernel reports an ICMP error of any earlier send here.
      this.failAll(new UpstreamFailure('upstream_unreachable', `${resolver.address}:${resolver.port}: ${err.code ?? err.message}`));
      this.close();
    });
    this.connected = new Promise((resolve) => this.socket.connect(resolver.port, resolver.address, () => resolve()));
  }

  exchange(query: Buffer, timeoutMs: number): Promise<Buffer> {
    this.uses++;
    if (this.uses >= MAX_QUERIES_PER_SOCKET) this.retired = true;
    clearTimeout(this.idle);
    let id = query.readUInt16BE(0);
    while (this.pending.has(id)) id = randomQueryId();
    const sent = Buffer.from(query);
    sent.writeUInt16BE(id, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UpstreamFailure('upstream_timeout', `no answer from ${this.resolver.address}:${this.resolver.port} within ${timeoutMs} ms`));
        this.afterAnswer();
      }, timeoutMs);
      this.pending.set(id, { query: sent, question: questionOf(sent), resolve, reject, timer });
      void this.connected.then(() => {
        if (this.closed) return;
        this.socket.send(sent, (err) => {
          if (!err) return;
          const p = this.pending.get(id);
          if (!p) return;
          this.pending.delete(id);
          clearTimeout(p.timer);
          p.reject(new UpstreamFailure('upstream_unreachable', `${this.resolver.address}:${this.resolver.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
          this.afterAnswer();
        });
      });
    });
  }

  private onAnswer(msg: Buffer): void {
    if (msg.length < HEADER_BYTES) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p || !matchesQuery(msg, p.query, p.question)) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(msg);
    this.afterAnswer();
  }

  private afterAnswer(): void {
    if (this.pending.size > 0 || this.closed) return;
    if (this.retired) this.close();
    else this.idle = setTimeout(() => this.close(), IDLE_CLOSE_MS).unref();
  }

  private failAll(err: UpstreamFailure): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.retired = true;
    clearTimeout(this.idle);
    this.failAll(new UpstreamFailure('upstream_reset', 'the upstream socket closed'));
    this.socket.close();
    this.onGone(this);
  }
}

const pools = new Map<string, UpstreamSocket[]>();

/** Sends `query` to the resolver and resolves with its answer (the id as sent); rejects with UpstreamFailure. */
export function exchangeUdp(query: Buffer, resolver: { address: string; port: number }, timeoutMs: number): Promise<Buffer> {
  const key = `${resolver.address}|${resolver.port}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = [];
    pools.set(key, pool);
  }
  const live = pool.filter((s) => !s.retired);
  let socket: UpstreamSocket;
  if (live.length < SOCKETS_PER_RESOLVER) {
    socket = new UpstreamSocket(resolver, (gone) => {
      const list = pools.get(key);
      if (!list) return;
      const i = list.indexOf(gone);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) pools.delete(key);
    });
    pool.push(socket);
  } else {
    socket = live[randomInt(0, live.length)]!;
  }
  return socket.exchange(query, timeoutMs);
}

/** The question section's bytes of a query (lower-cased for comparison). */
export function questionOf(query: Buffer): Buffer {
  const end = questionEnd(query);
  return asciiLower(query.subarray(HEADER_BYTES, end));
}

function questionEnd(msg: Buffer): number {
  // Question[0] of a query the proxy parsed: uncompressed labels, then type and class.
  let at = HEADER_BYTES;
  while (at < msg.length && msg[at] !== 0) at += 1 + msg[at]!;
  return Math.min(at + 5, msg.length);
}

/** Same id, QR set, and (when it has one) the same Question[0], ignoring ASCII case. */
export function matchesQuery(answer: Buffer, query: Buffer, question: Buffer): boolean {
  const header = readHeader(answer);
  if (!header || !header.response || header.id !== query.readUInt16BE(0)) return false;
  // FORMERR / NOTIMP answers may carry no question.
  if (header.qdcount === 0) return true;
  if (answer.length < HEADER_BYTES + question.length) return false;
  return asciiLower(answer.subarray(HEADER_BYTES, HEADER_BYTES + question.length)).equals(question);
}

/** ASCII lower-case of the name part (type and class, the last 4 bytes, stay as they are). */
function asciiLower(b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length - 4; i++) {
    const c = out[i]!;
    if (c >= 0x41 && c <= 0x5a) out[i] = c + 0x20;
  }
  return out;
}
