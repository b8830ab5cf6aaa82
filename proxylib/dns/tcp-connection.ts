// DNS over TCP (RFC 7766) on one client connection: 2-byte length framing, several queries per
// connection, pipelined (answered as they complete, which §6.2.1.1 allows; clients match by id).
// Allowed queries go over one TCP connection to the resolver the client asked, opened at the first
// allowed query and again after it closes; each carries a fresh id, unique among the queries in
// flight on it, and the client's id is restored on the answer.
import { isIPv6, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { worldIdentityOf } from '../../policy/index.js';
import type { MeshdFilterConnection } from '../listener/types.js';
import type { UpstreamTarget } from '../upstream/types.js';
import type { DnsPolicyConfig } from './compile-policy.js';
import { answerQuery, UpstreamFailure } from './query-handler.js';
import type { DnsRuntime } from './runtime.js';
import { answersQuery, questionEndOf, randomQueryId } from './udp-exchange.js';

/** Queries in flight on one connection before the proxy stops reading more (back-pressure). */
export const MAX_QUERIES_IN_FLIGHT = 100;
/** Idle connections (nothing in flight) close after this, as servers do (RFC 7766 §6.2.3). */
export const DNS_TCP_IDLE_TIMEOUT_MS = 10_000;

/** Splits a TCP byte stream into DNS messages (2-byte big-endian length prefix). */
export class DnsFrameSplitter {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: Buffer[] = [];
    let at = 0;
    while (this.buffered.length - at >= 2) {
      const len = this.buffered.readUInt16BE(at);
      if (this.buffered.length - at - 2 < len) break;
      out.push(this.buffered.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
    this.buffered = this.buffered.subarray(at);
    return out;
  }

  get pendingBytes(): number {
    return this.buffered.length;
  }
}

export function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

interface PendingQuery {
  query: Buffer;
  questionEnd: number;
  resolve(answer: Buffer): void;
  reject(err: UpstreamFailure): void;
  timer: NodeJS.Timeout;
}

/** The connection to the resolver that one client connection's queries share. */
class UpstreamDnsConnection {
  private readonly pending = new Map<number, PendingQuery>();
  private readonly splitter = new DnsFrameSplitter();
  private closed = false;

  constructor(private readonly socket: Promise<Socket | TLSSocket>) {
    socket.then(
      (s) => {
        if (this.closed) {
          s.destroy();
          return;
        }
        s.on('data', (chunk: Buffer) => this.onData(chunk));
        s.on('error', () => this.fail('upstream_reset', 'the resolver connection failed'));
        s.on('close', () => this.fail('upstream_reset', 'the resolver closed the connection'));
      },
      (err: Error & { code?: string }) => this.fail('upstream_unreachable', `cannot connect to the resolver: ${err.message}`),
    );
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** An id no query in flight on this connection uses. */
  freshId(): number {
    for (;;) {
      const id = randomQueryId();
      if (!this.pending.has(id)) return id;
    }
  }

  exchange(query: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new UpstreamFailure('upstream_reset', 'the resolver connection is closed'));
    const id = query.readUInt16BE(0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UpstreamFailure('upstream_timeout', `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { query, questionEnd: questionEndOf(query), resolve, reject, timer });
      this.socket.then(
        (s) => {
          if (!s.destroyed) s.write(frame(query));
        },
        () => {},
      );
    });
  }

  private onData(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.splitter.push(chunk);
    } catch {
      this.fail('upstream_reset', 'unreadable framing from the resolver');
      return;
    }
    for (const msg of messages) {
      if (msg.length < 2) continue;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (!p || !answersQuery(msg, p.query, p.questionEnd)) continue;
      this.pending.delete(msg.readUInt16BE(0));
      clearTimeout(p.timer);
      p.resolve(Buffer.from(msg));
    }
  }

  private fail(reason: UpstreamFailure['reason'], message: string): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new UpstreamFailure(reason, message));
    }
    this.socket.then(
      (s) => s.destroy(),
      () => {},
    );
  }

  close(): void {
    this.fail('upstream_reset', 'the client connection closed');
  }
}

/**
 * Runs one client connection. `policyOf` reads the filter's policy in the current config per query
 * (undefined: the filter chain is gone, the connection drains).
 */
export function runDnsTcpConnection(conn: MeshdFilterConnection, first: DnsPolicyConfig, policyOf: () => DnsPolicyConfig | undefined, runtime: DnsRuntime): void {
  const socket = conn.socket;
  const splitter = new DnsFrameSplitter();
  const egress = first.direction === 'egress';
  const world = (ip: string): number => worldIdentityOf(isIPv6(ip) ? 6 : 4).id;
  const sourceIdentity = conn.sourceIdentity ?? (egress ? undefined : world(conn.source.address));
  const destinationIdentity = conn.destinationIdentity ?? (egress ? world(conn.destination.address) : undefined);
  const peerIdentity = (egress ? destinationIdentity : sourceIdentity) ?? world(conn.destination.address);
  let upstream: UpstreamDnsConnection | undefined;
  let upstreamInfo: { cluster: string; address: string; port: number } | undefined;
  let inFlight = 0;
  let clientEnded = false;
  let draining = false;
  let closed = false;

  const idle = conn.clock.timeout(DNS_TCP_IDLE_TIMEOUT_MS, () => {
    if (inFlight === 0) finish();
    else idle.refresh();
  });
  const finish = (): void => {
    if (closed) return;
    closed = true;
    idle.cancel();
    upstream?.close();
    if (!socket.destroyed) socket.end();
  };
  const maybeFinish = (): void => {
    if (inFlight === 0 && (clientEnded || draining)) finish();
  };
  const updateReading = (): void => {
    if (closed || clientEnded || draining || inFlight >= MAX_QUERIES_IN_FLIGHT) socket.pause();
    else socket.resume();
  };

  const upstreamFor = (policy: DnsPolicyConfig): UpstreamDnsConnection => {
    if (upstream && !upstream.isClosed) return upstream;
    const picked = conn.clusters.pick(policy.upstreamCluster, { originalDestination: conn.destination, host: '', downstreamProtocol: 'http1' });
    if (!picked.ok) throw new UpstreamFailure('no_upstream', `cluster ${policy.upstreamCluster}: ${picked.reason}`);
    const target: UpstreamTarget = picked.target;
    upstreamInfo = { cluster: policy.upstreamCluster, address: target.address, port: target.port };
    upstream = new UpstreamDnsConnection(conn.clusters.connect(target, { alpnProtocols: [] }));
    return upstream;
  };

  const onQuery = (msg: Buffer): void => {
    const policy = policyOf();
    if (!policy) {
      // The chain is gone: no new query is taken; in-flight ones finish.
      draining = true;
      maybeFinish();
      return;
    }
    inFlight++;
    idle.refresh();
    let connection: UpstreamDnsConnection | undefined;
    void answerQuery(msg, {
      protocol: 'tcp',
      policy,
      source: { ip: conn.source.address, port: conn.source.port, identity: sourceIdentity },
      destination: { ip: conn.destination.address, port: conn.destination.port, identity: destinationIdentity },
      peerIdentity,
      listener: conn.listenerName,
      filterChain: conn.filterChainName,
      runtime,
      logger: conn.logger,
      upstream: () => upstreamInfo,
      freshId: () => {
        connection = upstreamFor(policy);
        return connection.freshId();
      },
      exchange: (query, _questionEnd, timeoutMs) => (connection ?? upstreamFor(policy)).exchange(query, timeoutMs),
    }).then((answer) => {
      inFlight--;
      if (answer && !closed && !socket.destroyed) socket.write(frame(answer));
      updateReading();
      maybeFinish();
    });
    updateReading();
  };

  socket.on('data', (chunk: Buffer) => {
    if (closed) return;
    idle.refresh();
    for (const msg of splitter.push(chunk)) {
      if (closed || draining) break;
      onQuery(msg);
    }
  });
  socket.on('end', () => {
    clientEnded = true;
    updateReading();
    maybeFinish();
  });
  socket.once('close', () => {
    closed = true;
    idle.cancel();
    upstream?.close();
  });
  conn.onDrain(() => {
    draining = true;
    updateReading();
    maybeFinish();
  });
  socket.resume();
}
