// Upstream HTTP/2 sessions shared by every downstream connection: one session per upstream target
// (UpstreamTarget.poolKey) carries many streams, as haproxy does and nginx's grpc_pass does not
// (perf.md §2b: multiplexing makes the upstream cheaper than a direct connection per client). A new
// session is opened only when every live session of the target is at its stream limit (the peer's
// SETTINGS_MAX_CONCURRENT_STREAMS, capped locally), or after a GOAWAY / failure / request cap.
//
// Connections come from the ClusterManager (connect timeout, TLS origination with ALPN h2), so this
// file never dials itself. Idle sessions are unref'd (an idle pool never keeps the process alive) and
// closed after the cluster's idle timeout on the shared coarse clock.
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { ProxyError } from '../errors.js';
import type { CoarseClock, CoarseTimer } from '../listener/index.js';
import { coarseClock } from '../listener/index.js';
import type { ClusterManager, UpstreamTarget } from '../upstream/index.js';

export interface Http2SessionPoolOptions {
  /** Streams per session even when the peer allows more (default 100: RFC 9113 §6.5.2's recommended minimum). */
  maxStreamsPerSession?: number;
  /**
   * Caps on the cluster's http2_protocol_options windows (default 1 MiB per stream, 16 MiB per
   * connection): node:http2 buffers up to the window per stream in memory, so Envoy's 256 MiB
   * defaults are not advertised as such. Smaller configured values apply.
   */
  initialWindowSize?: number;
  connectionWindowSize?: number;
  clock?: CoarseClock;
}

export interface OpenStreamOptions {
  /** The request has no body: HEADERS carries END_STREAM. */
  endStream: boolean;
  /** Keep the stream open after the body so the caller can send request trailers ('wantTrailers'). */
  waitForTrailers: boolean;
  /** Checked once a session is available: true → no stream is opened (the downstream went away while connecting). */
  isCancelled?: () => boolean;
}

interface PooledSession {
  readonly session: ClientHttp2Session;
  readonly poolKey: string;
  /** Streams opened and not yet closed. */
  active: number;
  /** Streams ever opened (for the cluster's max_requests_per_connection). */
  opened: number;
  /** false after GOAWAY, an error, close, or the request cap: no new streams. */
  usable: boolean;
  idleTimer: CoarseTimer | undefined;
  /** The cluster's max_requests_per_connection (0 = unlimited). */
  readonly maxRequests: number;
  /** The cluster's idle timeout (0 = never). */
  readonly idleTimeoutMs: number;
  /** Streams per session: the pool's cap, lowered by the cluster's http2_protocol_options.max_concurrent_streams. */
  readonly maxStreams: number;
}

interface Connecting {
  readonly promise: Promise<PooledSession>;
  /** Streams promised to callers waiting for this session. */
  reserved: number;
}

interface PoolEntry {
  sessions: PooledSession[];
  connecting: Connecting[];
}

export interface Http2SessionPoolStats {
  /** Sessions opened since the pool was created, per poolKey. */
  sessionsOpened: ReadonlyMap<string, number>;
  /** Live (connected, not closed) sessions now. */
  liveSessions: number;
  /** Streams open now, over all sessions. */
  activeStreams: number;
}

const DEFAULT_MAX_STREAMS = 100;
const DEFAULT_WINDOW = 1 << 20;
const DEFAULT_CONNECTION_WINDOW = 16 << 20;

export class Http2SessionPool {
  private readonly entries = new Map<string, PoolEntry>();
  private readonly opened = new Map<string, number>();
  private readonly maxStreamsPerSession: number;
  private readonly initialWindowSize: number;
  private readonly connectionWindowSize: number;
  private readonly clock: CoarseClock;
  private closed = false;

  constructor(options: Http2SessionPoolOptions = {}) {
    this.maxStreamsPerSession = options.maxStreamsPerSession ?? DEFAULT_MAX_STREAMS;
    this.initialWindowSize = options.initialWindowSize ?? DEFAULT_WINDOW;
    this.connectionWindowSize = options.connectionWindowSize ?? DEFAULT_CONNECTION_WINDOW;
    this.clock = options.clock ?? coarseClock;
  }

  /**
   * Opens a stream to `target` on a pooled session (connecting one when needed). Rejects with a
   * ProxyError (MESHD_ERR_PROXY_UPSTREAM_CONNECT / _TLS) when no session could be established.
   * Resolves undefined when `isCancelled()` turned true while waiting.
   */
  async openStream(
    clusters: ClusterManager,
    target: UpstreamTarget,
    headers: OutgoingHttpHeaders,
    options: OpenStreamOptions,
  ): Promise<ClientHttp2Stream | undefined> {
    // A session can die between being chosen and being used (GOAWAY raced with the request): one
    // more attempt on a fresh choice, as Envoy retries a stream refused before it was sent.
    for (let attempt = 0; ; attempt++) {
      const pooled = await this.acquire(clusters, target);
      if (options.isCancelled?.() === true) {
        this.release(pooled);
        return undefined;
      }
      try {
        const stream = pooled.session.request(headers, {
          endStream: options.endStream,
          waitForTrailers: options.waitForTrailers,
        });
        stream.once('close', () => this.release(pooled));
        return stream;
      } catch (err) {
        const code = (err as { code?: string }).code;
        const sessionGone = pooled.session.closed || pooled.session.destroyed || code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION' || code === 'ERR_HTTP2_OUT_OF_STREAMS';
        if (!sessionGone) {
          // The header block itself was refused (a value node:http2 cannot send): not the session's fault.
          this.release(pooled);
          throw err;
        }
        this.retire(pooled);
        this.release(pooled);
        if (attempt >= 1) {
          throw new ProxyError('MESHD_ERR_PROXY_UPSTREAM_CONNECT', `upstream HTTP/2 session to ${target.address}:${target.port} refused a new stream: ${(err as Error).message}`);
        }
      }
    }
  }

  stats(): Http2SessionPoolStats {
    let liveSessions = 0;
    let activeStreams = 0;
    for (const entry of this.entries.values()) {
      liveSessions += entry.sessions.length;
      for (const s of entry.sessions) activeStreams += s.active;
    }
    return { sessionsOpened: new Map(this.opened), liveSessions, activeStreams };
  }

  /** Sends GOAWAY on every session; open streams finish. New openStream calls are refused. */
  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) {
      for (const s of entry.sessions) this.retire(s);
    }
  }

  /** Destroys every session at once (in-flight upstream streams are reset). */
  destroy(): void {
    this.closed = true;
    for (const entry of this.entries.values()) {
      for (const s of [...entry.sessions]) s.session.destroy();
    }
  }

  private entryOf(poolKey: string): PoolEntry {
    let entry = this.entries.get(poolKey);
    if (entry === undefined) {
      entry = { sessions: [], connecting: [] };
      this.entries.set(poolKey, entry);
    }
    return entry;
  }

  /** Reserves one stream slot on a session of the target; the caller must `release` it. */
  private acquire(clusters: ClusterManager, target: UpstreamTarget): Promise<PooledSession> {
    if (this.closed) return Promise.reject(new ProxyError('MESHD_ERR_PROXY_CLOSED', 'the HTTP/2 upstream pool is closed'));
    const entry = this.entryOf(target.poolKey);
    for (const s of entry.sessions) {
      if (s.usable && s.active < this.limitOf(s)) {
        this.take(s);
        return Promise.resolve(s);
      }
    }
    for (const c of entry.connecting) {
      if (c.reserved < this.maxStreamsPerSession) {
        c.reserved++;
        return c.promise.then((s) => this.takeReserved(s, clusters, target));
      }
    }
    const connecting: Connecting = { promise: this.connect(clusters, target), reserved: 1 };
    entry.connecting.push(connecting);
    const done = (): void => {
      entry.connecting = entry.connecting.filter((c) => c !== connecting);
    };
    connecting.promise.then(done, done);
    return connecting.promise.then((s) => this.takeReserved(s, clusters, target));
  }

  /** A waiter of a connecting session: the session may have died (or shrunk its limit) meanwhile. */
  private takeReserved(s: PooledSession, clusters: ClusterManager, target: UpstreamTarget): Promise<PooledSession> {
    if (s.usable && !s.session.destroyed) {
      // Over the peer's limit nghttp2 queues the HEADERS until a stream closes, so this never fails.
      this.take(s);
      return Promise.resolve(s);
    }
    return this.acquire(clusters, target);
  }

  private take(s: PooledSession): void {
    s.active++;
    s.opened++;
    if (s.idleTimer !== undefined) {
      s.idleTimer.cancel();
      s.idleTimer = undefined;
    }
    // Only sessions with streams in flight keep the process alive.
    if (s.active === 1) s.session.ref();
    // max_requests_per_connection: the last allowed stream retires the session; it closes when idle.
    if (s.maxRequests > 0 && s.opened >= s.maxRequests) this.retire(s);
  }

  private release(s: PooledSession): void {
    s.active--;
    if (s.active > 0) return;
    if (!s.usable) {
      if (!s.session.closed) s.session.close();
      return;
    }
    s.session.unref();
    if (s.idleTimeoutMs > 0) {
      s.idleTimer = this.clock.timeout(s.idleTimeoutMs, () => {
        s.idleTimer = undefined;
        if (s.active === 0) this.retire(s);
      });
    }
  }

  /** No new streams on this session; it closes once its streams are done. */
  private retire(s: PooledSession): void {
    s.usable = false;
    const entry = this.entries.get(s.poolKey);
    if (entry !== undefined) {
      entry.sessions = entry.sessions.filter((x) => x !== s);
      if (entry.sessions.length === 0 && entry.connecting.length === 0) this.entries.delete(s.poolKey);
    }
    if (s.idleTimer !== undefined) {
      s.idleTimer.cancel();
      s.idleTimer = undefined;
    }
    if (s.active === 0 && !s.session.closed && !s.session.destroyed) s.session.close();
  }

  private limitOf(s: PooledSession): number {
    const peer = s.session.remoteSettings.maxConcurrentStreams ?? s.maxStreams;
    return Math.min(peer, s.maxStreams);
  }

  private async connect(clusters: ClusterManager, target: UpstreamTarget): Promise<PooledSession> {
    const socket = await clusters.connect(target, { alpnProtocols: ['h2'] });
    const tls = (socket as TLSSocket).encrypted === true;
    if (tls && (socket as TLSSocket).alpnProtocol !== 'h2') {
      socket.destroy();
      throw new ProxyError(
        'MESHD_ERR_PROXY_UPSTREAM_TLS',
        `upstream ${target.address}:${target.port} did not negotiate ALPN h2 (got ${String((socket as TLSSocket).alpnProtocol)})`,
        'the cluster asks for HTTP/2: the upstream must offer h2 over TLS, or configure the cluster for HTTP/1.1',
      );
    }
    if (this.closed) {
      socket.destroy();
      throw new ProxyError('MESHD_ERR_PROXY_CLOSED', 'the HTTP/2 upstream pool is closed');
    }
    const host = target.address.includes(':') ? `[${target.address}]` : target.address;
    const settings = target.cluster.http2;
    const initialWindowSize = Math.min(settings?.initialStreamWindowSize ?? this.initialWindowSize, this.initialWindowSize);
    const connectionWindowSize = Math.min(settings?.initialConnectionWindowSize ?? this.connectionWindowSize, this.connectionWindowSize);
    const session = http2.connect(`${tls ? 'https' : 'http'}://${host}:${target.port}`, {
      createConnection: () => socket,
      settings: { enablePush: false, initialWindowSize, headerTableSize: settings?.hpackTableSize ?? 4096 },
      // Until the peer's SETTINGS arrive, nghttp2 holds streams beyond this many (RFC 9113 §6.5.2's minimum).
      peerMaxConcurrentStreams: this.maxStreamsPerSession,
      // nghttp2's memory accounting includes the buffered receive windows of every open stream.
      maxSessionMemory: 64,
    });
    const pooled: PooledSession = {
      session,
      poolKey: target.poolKey,
      active: 0,
      opened: 0,
      usable: true,
      idleTimer: undefined,
      maxRequests: target.cluster.maxRequestsPerConnection ?? 0,
      idleTimeoutMs: target.cluster.idleTimeoutMs,
      maxStreams: Math.min(settings?.maxConcurrentStreams ?? this.maxStreamsPerSession, this.maxStreamsPerSession),
    };
    this.opened.set(target.poolKey, (this.opened.get(target.poolKey) ?? 0) + 1);

    session.on('error', () => this.retire(pooled)); // the streams see their own errors
    session.on('goaway', () => this.retire(pooled));
    session.on('close', () => this.retire(pooled));
    session.once('connect', () => {
      try {
        session.setLocalWindowSize(connectionWindowSize);
      } catch {
        // The session closed in the same tick: nothing to size.
      }
    });
    // The entry is looked up again: it may have been dropped (and recreated) while connecting.
    this.entryOf(target.poolKey).sessions.push(pooled);
    return pooled;
  }
}
