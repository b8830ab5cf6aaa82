// What the listener layer hands to a protocol handler (D-http1's HTTP/1.1 handler, E's HTTP/2
// handler) once a connection is accepted, its filter chain selected, network filters passed and TLS
// terminated. The handler owns the socket from then on; the listener keeps only what it needs to
// drain the connection when its listener or filter chain goes away.
//
// Stable contract: fields are only ever added.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ConnectionFacts, HcmConfig, RouteTable } from '../config/types.js';
import type { ConfigView } from '../config-store/types.js';
import type { DownstreamFacts } from '../hcm/types.js';
import type { FlowRecord, TcpFlowRecord } from '../flow/types.js';
import type { ClusterManager } from '../upstream/types.js';
import type { DnsRuntime } from '../dns/runtime.js';

export interface SocketEndpoint {
  address: string;
  port: number;
}

/** A timer on the shared coarse clock (see coarse-clock.ts): fires between `ms` and `ms + tick` late. */
export interface CoarseTimer {
  /** Pushes the deadline to now + the timer's duration (cheap: no native timer is re-armed). */
  refresh(): void;
  /** Stops the timer; safe to call more than once and after it fired. */
  cancel(): void;
}

export interface CoarseClock {
  /** Milliseconds (monotonic), as of the last tick: cheap to read on every chunk. */
  now(): number;
  /** Calls `onTimeout` once, `ms` after now (or after the last refresh()). `ms <= 0` → a timer that never fires. */
  timeout(ms: number, onTimeout: () => void): CoarseTimer;
  readonly tickMs: number;
}

export interface DownstreamConnection {
  /**
   * The downstream socket, past everything the listener read: bytes the listener peeked (ClientHello
   * sniffing, HTTP/2 preface detection) were given back with `socket.unshift`, so the handler reads
   * the stream from its first byte. A TLSSocket when the chain terminates TLS (handshake done).
   * The socket is PAUSED: attach your listeners, then call `socket.resume()` (pipe() resumes by
   * itself). Sockets are half-open capable (allowHalfOpen, for tcp_proxy half-close): on 'end' the
   * handler decides when to end its own side (answer in-flight work, then `socket.end()`).
   * 'error' on the socket is already handled by the listener (logged, connection closed) — add your
   * own listener for cleanup; never let it throw.
   */
  readonly socket: Socket | TLSSocket;
  /** What the HCM and HTTP RBAC see of this connection (peer certificate included when verified). */
  readonly facts: DownstreamFacts;
  /** What filter chain selection saw (after original_dst and tls_inspector). */
  readonly connectionFacts: ConnectionFacts;
  readonly listenerName: string;
  readonly filterChainName: string;
  /** 'https' when this connection terminated TLS here, else 'http'. */
  readonly scheme: 'http' | 'https';
  /** ALPN protocol negotiated by TLS termination ('h2', 'http/1.1'), undefined for plaintext or none. */
  readonly negotiatedAlpn: string | undefined;
  /** The connection's original destination (after original_dst), for ORIGINAL_DST clusters. */
  readonly originalDestination: SocketEndpoint;
  /** Source and destination security identities from the ipcache, when a resolver is configured. */
  readonly sourceIdentity: number | undefined;
  readonly destinationIdentity: number | undefined;
  /** When the connection was accepted (Date.now()). */
  readonly acceptedAtMs: number;
  /**
   * The HCM of this connection's filter chain in the CURRENT config: call once per request. The
   * chain is re-resolved by listener and chain name after every config change, so updates apply to
   * the next request on existing connections. undefined → the chain (or listener) is gone: answer
   * nothing more, finish in-flight work and close (the connection is draining).
   */
  hcm(): HcmConfig | undefined;
  /** The route table of `hcm()` (inline, or RDS from the view); undefined when missing (RDS not yet received). */
  routeTable(): RouteTable | undefined;
  readonly view: ConfigView;
  readonly clusters: ClusterManager;
  readonly clock: CoarseClock;
  /** Publishes on the `meshd:flow` diagnostics channel (no-op when nobody subscribes). */
  publishFlow(record: FlowRecord): void;
  /** Security identity of an IP from the ipcache (undefined when unknown or no resolver). */
  identityOf(ip: string): number | undefined;
  /**
   * Registers a callback run once when the connection must drain (listener removed, chain gone, proxy
   * closing). HTTP/1.1: finish the in-flight request, answer it with `connection: close`, then end.
   * HTTP/2: GOAWAY, let open streams finish, then close. After the drain timeout the listener
   * destroys the socket. Runs at once if the connection is already draining. Returns an unsubscribe.
   */
  onDrain(callback: () => void): () => void;
  readonly draining: boolean;
  readonly logger: ProxyLogger | undefined;
}

/**
 * What a meshd terminal network filter (Kafka; DNS over TCP next) gets of one accepted connection,
 * after chain selection, TLS termination and the chain's network RBAC filters — the same point where
 * tcp_proxy and the HTTP connection manager take over. The filter owns the socket from then on.
 */
export interface MeshdFilterConnection {
  /** PAUSED, half-open capable; see DownstreamConnection.socket. 'error' is already handled (logged). */
  readonly socket: Socket | TLSSocket;
  /** The downstream peer (the socket's remote address). */
  readonly source: SocketEndpoint;
  /** The original destination (after original_dst; the local address when not redirected). */
  readonly destination: SocketEndpoint;
  /** Security identities from the ipcache (undefined when unknown or no resolver). */
  readonly sourceIdentity: number | undefined;
  readonly destinationIdentity: number | undefined;
  readonly listenerName: string;
  readonly filterChainName: string;
  /** True when the chain terminated TLS. */
  readonly downstreamTls: boolean;
  readonly acceptedAtMs: number;
  /**
   * The filter's compiled config in the CURRENT config (same listener, chain by name, same filter
   * type): a listener update reaches the next request on an existing connection. undefined → the
   * chain is gone: finish in-flight work and close (the connection is draining).
   */
  currentConfig(): unknown;
  readonly clusters: ClusterManager;
  readonly clock: CoarseClock;
  readonly logger: ProxyLogger | undefined;
  identityOf(ip: string): number | undefined;
  /** Publishes on `meshd:flow` (no-op when nobody subscribes). */
  publishFlow(record: FlowRecord): void;
  /** A connection-level record (refused at accept, upstream unreachable): type 'tcp', this connection's peers. */
  publishConnectionFlow(outcome: Pick<TcpFlowRecord, 'verdict' | 'reason' | 'policy' | 'upstream' | 'bytesSent' | 'bytesReceived'>): void;
  /** As DownstreamConnection.onDrain: listener removed, chain gone, proxy closing. */
  onDrain(callback: () => void): () => void;
  readonly draining: boolean;
  /** What the data plane holds for its meshd filters (settings from BuiltinProxy.start, shared sockets). */
  readonly dataPlane: MeshdDataPlaneContext;
}

/**
 * One data plane's (one ListenerManager's) settings and shared resources for meshd filters, handed
 * to every meshd filter connection and every UDP listener; the ListenerManager closes what it holds
 * when it closes. A filter needing data-plane-wide state gets a field here.
 */
export interface MeshdDataPlaneContext {
  /** The DNS filter's: answer observer, response max delay, upstream UDP sockets. */
  readonly dns: DnsRuntime;
}

/** A meshd filter's compiled config (NetworkFilterConfig kind 'meshd') that runs connections. */
export interface MeshdTerminalFilter {
  handleConnection(conn: MeshdFilterConnection): void;
}

/** The slice of a pino-style logger the proxy uses (object first, message second). */
export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Resolves a redirected connection's original destination from the datapath (undefined → not redirected). */
/** `protocol` is absent for TCP connections (the datapath's default) and 'udp' for datagrams of UDP listeners. */
export type OriginalDestinationResolver = (tuple: { local: SocketEndpoint; remote: SocketEndpoint; protocol?: 'tcp' | 'udp' }) => SocketEndpoint | undefined;

export interface ListenerManagerDeps {
  clusters: ClusterManager;
  originalDestination?: OriginalDestinationResolver | undefined;
  identityOf?: ((ip: string) => number | undefined) | undefined;
  /** D-http1's handler: HTTP/1.1 (and HTTP/1.0) connections of an http_connection_manager chain. */
  http1: (conn: DownstreamConnection) => void;
  /** E's handler: HTTP/2 connections (ALPN h2, or the h2c prior-knowledge preface). */
  http2: (conn: DownstreamConnection) => void;
  logger?: ProxyLogger | undefined;
  /** How long a draining connection may live before it is destroyed (default 5000 ms). */
  drainTimeoutMs?: number | undefined;
  /**
   * Port handover (default off): fixed-port TCP listeners bind with SO_REUSEPORT and UDP listeners
   * with SO_REUSEADDR, so a restarted proxy can bind the same ports while this one drains
   * (docs/dns.md, "Restarting the proxy"). Off: plain binds, and a second process on a port gets
   * EADDRINUSE. On, ANY process of the same user may share the ports: only for the agent's proxy.
   */
  portHandover?: boolean | undefined;
  /** Shared coarse clock (default: the process-wide one). */
  clock?: CoarseClock | undefined;
  /** Time allowed for the listener phase (ClientHello peek, h2 preface sniff, TLS handshake); default 10 000 ms. */
  listenerFiltersTimeoutMs?: number | undefined;
}

export interface BoundListener {
  name: string;
  /** The configured address and port (port may be 0). */
  configured: SocketEndpoint;
  /** The address and port actually bound (port 0 resolved). */
  bound: SocketEndpoint;
}
