// Keep-alive pool of upstream HTTP/1.1 connections, one idle list per UpstreamTarget.poolKey.
//
// The pool only owns sockets: connecting (through ClusterManager.connect, so TLS origination and
// connect timeouts are the cluster layer's), idling, reuse limits and discarding. Parsing responses
// is the exchange's job (proxylib/http1). Each socket gets its listeners once, for its lifetime, and
// they dispatch to whoever holds the connection: adding and removing listeners per request would
// cost more than the request's own parsing on this hot path (perf.md §4).
//
// Envoy semantics kept: a connection that the upstream closed (or that sent bytes) while idle is
// discarded, never handed out; the newest idle connection is reused first (LIFO keeps few sockets
// warm); `max_requests_per_connection` closes a connection after that many requests; the cluster's
// idle_timeout closes idle connections.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CoarseClock, CoarseTimer } from '../listener/types.js';
import type { ClusterManager, UpstreamTarget } from './types.js';

/** What the holder of a pooled connection receives from its socket. */
export interface UpstreamConnectionHandler {
  onUpstreamData(chunk: Buffer): void;
  /** The upstream ended or the socket closed or failed while this handler held the connection. */
  onUpstreamClose(error: Error | undefined): void;
  /** The socket's write buffer drained (backpressure released). */
  onUpstreamDrain(): void;
}

export class PooledConnection {
  /** Requests started on this connection (counts the current one). */
  requests = 0;
  /** Set while someone holds the connection; undefined while idle. */
  handler: UpstreamConnectionHandler | undefined;
  closed = false;
  /** True when a request was started on this connection before the current one. */
  get reused(): boolean {
    return this.requests > 1;
  }
  idleTimer: CoarseTimer | undefined;
  /** Per-connection state of the protocol code using the pool (the HTTP/1.1 response parser). */
  attachment: unknown;

  constructor(
    readonly socket: Socket | TLSSocket,
    readonly target: UpstreamTarget,
    private readonly pool: Http1Pool,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (this.handler) this.handler.onUpstreamData(chunk);
      // Bytes from an idle upstream (a stray response, a 408 before closing) make the connection
      // unusable: the next response would be misattributed.
      else this.pool.discard(this);
    });
    socket.on('drain', () => this.handler?.onUpstreamDrain());
    socket.on('end', () => this.onGone(undefined));
    socket.on('error', (err: Error) => this.onGone(err));
    socket.on('close', () => this.onGone(undefined));
  }

  private onGone(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.idleTimer?.cancel();
    this.pool.forget(this);
    const handler = this.handler;
    this.handler = undefined;
    if (!this.socket.destroyed) this.socket.destroy();
    handler?.onUpstreamClose(err);
  }
}

export interface Http1PoolOptions {
  clusters: ClusterManager;
  clock: CoarseClock;
}

export interface Http1PoolStats {
  idle: number;
  busy: number;
  connectsStarted: number;
}

/** A keep-alive pool of upstream HTTP/1.1 connections. */
export class Http1Pool {
  private readonly idle = new Map<string, PooledConnection[]>();
  private readonly busy = new Set<PooledConnection>();
  private connectsStarted = 0;
  private isClosed = false;

  constructor(private readonly options: Http1PoolOptions) {}

  /**
   * An idle connection for the target (synchronously), or undefined when none is idle. The caller
   * then calls `connect`. Two calls keep the common reuse path free of promises.
   */
  acquireIdle(target: UpstreamTarget, handler: UpstreamConnectionHandler): PooledConnection | undefined {
    const list = this.idle.get(target.poolKey);
    while (list !== undefined && list.length > 0) {
      const conn = list.pop()!;
      if (conn.closed || conn.socket.destroyed) continue;
      this.hold(conn, handler);
      return conn;
    }
    return undefined;
  }

  /** Opens a new connection to the target (rejects with the cluster layer's ProxyError). */
  async connect(target: UpstreamTarget, handler: UpstreamConnectionHandler): Promise<PooledConnection> {
    this.connectsStarted++;
    const socket = await this.options.clusters.connect(target, { alpnProtocols: ['http/1.1'] });
    if (this.isClosed) {
      socket.destroy();
      throw new Error('the HTTP/1.1 pool was closed while connecting');
    }
    socket.setNoDelay(true);
    const conn = new PooledConnection(socket, target, this);
    this.hold(conn, handler);
    return conn;
  }

  /** Gives a connection back after a complete exchange; it idles unless it reached its request limit. */
  release(conn: PooledConnection): void {
    conn.handler = undefined;
    this.busy.delete(conn);
    const max = conn.target.cluster.maxRequestsPerConnection;
    if (conn.closed || this.isClosed || (max !== undefined && max > 0 && conn.requests >= max)) {
      this.discard(conn);
      return;
    }
    let list = this.idle.get(conn.target.poolKey);
    if (list === undefined) {
      list = [];
      this.idle.set(conn.target.poolKey, list);
    }
    list.push(conn);
    const idleMs = conn.target.cluster.idleTimeoutMs;
    if (conn.idleTimer) conn.idleTimer.refresh();
    else if (idleMs > 0) conn.idleTimer = this.options.clock.timeout(idleMs, () => this.onIdleTimeout(conn));
  }

  /** Closes a connection that must not be reused (error, cancel, upgrade, framing that ends with close). */
  discard(conn: PooledConnection): void {
    conn.handler = undefined;
    this.forget(conn);
    conn.closed = true;
    conn.idleTimer?.cancel();
    if (!conn.socket.destroyed) conn.socket.destroy();
  }

  /**
   * Takes a connection out of the pool for good (an upgraded or CONNECT tunnel): the caller owns the
   * socket now. Its pool listeners stay attached but dispatch to nobody once the handler is cleared.
   */
  detach(conn: PooledConnection): void {
    this.forget(conn);
    conn.idleTimer?.cancel();
  }

  forget(conn: PooledConnection): void {
    this.busy.delete(conn);
    const list = this.idle.get(conn.target.poolKey);
    if (list === undefined) return;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(conn.target.poolKey);
  }

  stats(): Http1PoolStats {
    let idle = 0;
    for (const list of this.idle.values()) idle += list.length;
    return { idle, busy: this.busy.size, connectsStarted: this.connectsStarted };
  }

  /** Closes idle connections now and busy ones as soon as they are released. */
  close(): void {
    this.isClosed = true;
    for (const list of [...this.idle.values()]) for (const conn of [...list]) this.discard(conn);
    this.idle.clear();
  }

  private hold(conn: PooledConnection, handler: UpstreamConnectionHandler): void {
    conn.handler = handler;
    conn.requests++;
    this.busy.add(conn);
  }

  private onIdleTimeout(conn: PooledConnection): void {
    conn.idleTimer = undefined;
    if (conn.handler === undefined && !conn.closed) this.discard(conn);
  }
}
