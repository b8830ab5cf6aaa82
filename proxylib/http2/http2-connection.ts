// The HTTP/2 side of the HTTP connection manager: takes a DownstreamConnection from the listener
// (plaintext h2c with prior knowledge, or TLS that negotiated ALPN h2) and runs an nghttp2 server
// session on its socket through node:http2 (the issue asks for nghttp2; a hand-written h2 codec would
// be a second HPACK and flow-control implementation to get right).
//
// node:http2 only builds server sessions inside an Http2Server's 'connection' handler, so a server
// object is kept per settings combination and the socket is handed to it with emit('connection').
// Bytes the listener peeked (the h2 preface sniff, ClientHello) were unshifted back into the socket;
// Node's Http2Session feeds a socket's already-buffered bytes to nghttp2 before reading from the
// handle, so nothing is lost (test: "a socket with unshifted preface bytes is served").
import http2 from 'node:http2';
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { HcmConfig } from '../config/types.js';
import { decideRequest as hcmDecideRequest } from '../hcm/index.js';
import type { DecideRequest } from '../hcm/index.js';
import type { CoarseTimer, DownstreamConnection } from '../listener/index.js';
import { Http1Pool, type ClusterManager } from '../upstream/index.js';
import { Http2SessionPool } from './http2-session-pool.js';
import { proxyHttp2Stream, type StreamContext } from './http2-stream-proxy.js';

const { NGHTTP2_REFUSED_STREAM } = http2.constants;

export interface Http2HandlerOptions {
  /** The per-request decision (default: proxylib/hcm's decideRequest, shared with HTTP/1.1). */
  decideRequest?: DecideRequest;
  /** Upstream session pool; default: one pool per handler. Pass a shared one to multiplex across handlers. */
  pool?: Http2SessionPool;
  /**
   * Upper bounds on what the HCM's http2_protocol_options may advertise downstream. Envoy's defaults
   * (2^31-1 streams, 256 MiB windows) rely on Envoy's own buffer watermarks; node:http2 grants window
   * only as JS reads, so a window is memory a client may fill here: meshd caps streams at 1024, the
   * stream window at 1 MiB and the connection window at 16 MiB (smaller configured values apply).
   */
  maxConcurrentStreamsCap?: number;
  initialWindowSizeCap?: number;
  connectionWindowSizeCap?: number;
}

export interface Http2ConnectionHandler {
  (conn: DownstreamConnection): void;
  /** The upstream pool (tests read its stats; the proxy closes it on shutdown). */
  readonly pool: Http2SessionPool;
  /** Live downstream sessions. */
  sessionCount(): number;
  /** GOAWAY on every downstream session and the upstream pool. */
  close(): void;
}

const DEFAULT_MAX_STREAMS = 1024;
const DEFAULT_WINDOW = 1 << 20;
const DEFAULT_CONNECTION_WINDOW = 16 << 20;

/** Returns the `http2` handler the ListenerManager calls for every HTTP/2 downstream connection. */
export function createHttp2ConnectionHandler(options: Http2HandlerOptions = {}): Http2ConnectionHandler {
  const decideRequest = options.decideRequest ?? hcmDecideRequest;
  const pool = options.pool ?? new Http2SessionPool();
  const maxStreamsCap = options.maxConcurrentStreamsCap ?? DEFAULT_MAX_STREAMS;
  const windowCap = options.initialWindowSizeCap ?? DEFAULT_WINDOW;
  const connectionWindowCap = options.connectionWindowSizeCap ?? DEFAULT_CONNECTION_WINDOW;
  const servers = new Map<string, Http2Server>();
  // One HTTP/1.1 upstream pool per cluster manager (per proxy instance), for HTTP/1.1 clusters.
  const http1Pools = new Map<ClusterManager, Http1Pool>();
  const http1PoolFor = (conn: DownstreamConnection): Http1Pool => {
    let p = http1Pools.get(conn.clusters);
    if (p === undefined) {
      p = new Http1Pool({ clusters: conn.clusters, clock: conn.clock });
      http1Pools.set(conn.clusters, p);
    }
    return p;
  };
  const sessions = new Set<ServerHttp2Session>();
  // Set only during the synchronous emit('connection'): the server's 'session' event is emitted
  // inside it, which is how the session is matched with its DownstreamConnection.
  let adopting: DownstreamConnection | undefined;

  const serverFor = (hcm: HcmConfig): Http2Server => {
    const maxHeaderListSize = Math.max(1, hcm.maxRequestHeadersKb) * 1024;
    // Node counts pseudo-headers as pairs too; Envoy's max_headers_count is about regular headers.
    const maxHeaderListPairs = Math.max(4, hcm.maxHeadersCount + 4);
    const maxConcurrentStreams = Math.min(hcm.http2?.maxConcurrentStreams ?? maxStreamsCap, maxStreamsCap);
    const initialWindowSize = Math.min(hcm.http2?.initialStreamWindowSize ?? windowCap, windowCap);
    const headerTableSize = hcm.http2?.hpackTableSize ?? 4096;
    const key = `${maxHeaderListSize}/${maxHeaderListPairs}/${maxConcurrentStreams}/${initialWindowSize}/${headerTableSize}`;
    let server = servers.get(key);
    if (server !== undefined) return server;
    server = http2.createServer({
      // enableConnectProtocol stays off: extended CONNECT is not implemented (clients must not try it).
      settings: { maxConcurrentStreams, initialWindowSize, maxHeaderListSize, headerTableSize, enablePush: false },
      maxHeaderListPairs,
      maxSessionMemory: 64,
    });
    server.on('session', (session: ServerHttp2Session) => {
      const conn = adopting;
      if (conn === undefined) {
        session.destroy();
        return;
      }
      adoptSession(conn, session);
    });
    // Session and stream errors are handled per session; a server-level listener keeps Node from
    // treating them as unhandled.
    server.on('sessionError', () => {});
    servers.set(key, server);
    return server;
  };

  const adoptSession = (conn: DownstreamConnection, session: ServerHttp2Session): void => {
    sessions.add(session);
    const ctx: StreamContext = { conn, decideRequest, pool, http1Pool: http1PoolFor(conn) };
    let activeStreams = 0;
    let idleTimer: CoarseTimer | undefined;

    const armIdle = (): void => {
      const hcm = conn.hcm();
      // HCM idle_timeout: a connection with no active stream for this long is closed with GOAWAY.
      if (hcm !== undefined && hcm.idleTimeoutMs > 0) {
        idleTimer = conn.clock.timeout(hcm.idleTimeoutMs, () => {
          idleTimer = undefined;
          if (activeStreams === 0) session.close();
        });
      }
    };

    session.on('error', (err: Error) => conn.logger?.debug({ err, listener: conn.listenerName }, 'downstream HTTP/2 session error'));
    session.once('close', () => {
      sessions.delete(session);
      idleTimer?.cancel();
      unsubscribeDrain();
      if (!conn.socket.destroyed) conn.socket.destroy();
    });
    const connectionWindowSize = Math.min(conn.hcm()?.http2?.initialConnectionWindowSize ?? connectionWindowCap, connectionWindowCap);
    session.once('connect', () => {
      try {
        session.setLocalWindowSize(connectionWindowSize);
      } catch {
        // Closed in the same tick.
      }
    });

    // Draining (listener removed, chain gone, proxy closing): GOAWAY, in-flight streams finish.
    const unsubscribeDrain = conn.onDrain(() => {
      if (!session.closed && !session.destroyed) session.close();
    });

    session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      const hcm = conn.hcm();
      if (hcm === undefined || conn.draining) {
        // The chain is gone: this connection answers nothing more (the client retries elsewhere).
        stream.on('error', () => {});
        stream.close(NGHTTP2_REFUSED_STREAM);
        if (!session.closed) session.close();
        return;
      }
      activeStreams++;
      if (idleTimer !== undefined) {
        idleTimer.cancel();
        idleTimer = undefined;
      }
      stream.once('close', () => {
        activeStreams--;
        if (activeStreams === 0 && !session.closed && !session.destroyed) armIdle();
      });
      proxyHttp2Stream(ctx, hcm, stream, headers, rawHeaders);
    });
    armIdle();
    // common_http_protocol_options.max_connection_duration: the connection is drained (GOAWAY,
    // in-flight streams finish) once it has lived this long.
    const maxDurationMs = conn.hcm()?.maxConnectionDurationMs ?? 0;
    const durationTimer = maxDurationMs > 0 ? conn.clock.timeout(maxDurationMs, () => {
      if (!session.closed && !session.destroyed) session.close();
    }) : undefined;
    session.once('close', () => durationTimer?.cancel());
  };

  const handler = ((conn: DownstreamConnection): void => {
    const hcm = conn.hcm();
    if (hcm === undefined) {
      conn.socket.destroy();
      return;
    }
    const socket = conn.socket;
    // A socket error before or without a session must not become an uncaught 'error'.
    socket.on('error', () => {});
    adopting = conn;
    try {
      serverFor(hcm).emit('connection', socket);
    } finally {
      adopting = undefined;
    }
  }) as Http2ConnectionHandler;

  Object.defineProperty(handler, 'pool', { value: pool });
  handler.sessionCount = () => sessions.size;
  handler.close = () => {
    for (const session of sessions) if (!session.closed) session.close();
    pool.close();
    for (const p of http1Pools.values()) p.close();
  };
  return handler;
}
