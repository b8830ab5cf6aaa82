// Everything between accept and the protocol handler, in Envoy's order: original destination →
// tls_inspector (peek the ClientHello) → filter chain selection → the chain's transport socket (TLS
// termination) → network filters (RBAC) → the terminal filter: tcp_proxy, or the HTTP connection
// manager's codec (ALPN, else the HTTP/2 prior-knowledge preface, else HTTP/1.1), or a meshd filter
// (Kafka) registered with registerNetworkFilter, whose compiled config takes the connection itself.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ConnectionFacts, FilterChainConfig } from '../config/types.js';
// Envoy's listener_filters_timeout default, as the config compiler applies it.
import { DEFAULT_LISTENER_FILTERS_TIMEOUT_MS } from '../config/index.js';
import type { ConfigView } from '../config-store/types.js';
import type { FlowPeer, TcpFlowRecord } from '../flow/index.js';
import { isFlowObserved, publishFlow } from '../flow/index.js';
import type { DownstreamFacts } from '../hcm/types.js';
import type { ClusterManager } from '../upstream/index.js';
import { ListenerDownstreamConnection, chainRefOf, type ChainRef } from './downstream-connection.js';
import { detectH2Preface, H2_PREFACE_LENGTH, peekSocket } from './peek.js';
import { runTcpProxy } from './tcp-proxy.js';
import { CLIENT_HELLO_PEEK_LIMIT, inspectClientHello } from './tls-inspector.js';
import type { DownstreamTlsTerminator } from './tls-termination.js';
import type { CoarseClock, DownstreamConnection, MeshdDataPlaneContext, MeshdFilterConnection, MeshdTerminalFilter, ProxyLogger, SocketEndpoint } from './types.js';

/** What the listener manager tracks of one accepted connection, for draining and shutdown. */
export interface ConnectionEntry {
  readonly raw: Socket;
  readonly listenerName: string;
  /** Set once a chain is selected. */
  chainRef: ChainRef | undefined;
  /** Set once an HTTP handler took the connection. */
  conn: ListenerDownstreamConnection | undefined;
  /** The socket in use (the TLSSocket after termination). */
  socket: Socket | TLSSocket;
  /** setup: listener filters, TLS handshake, codec sniff — no request has started yet. meshd: a meshd filter (Kafka) runs it. */
  phase: 'setup' | 'http' | 'tcp' | 'meshd';
  draining: boolean;
  /** Accepted by an IP_TRANSPARENT listener for an address that is not its own (BPF TPROXY):
   *  the local address is the original destination. */
  localIsOriginalDestination?: boolean;
}

export interface SetupEnvironment {
  view: ConfigView;
  clusters: ClusterManager;
  clock: CoarseClock;
  terminator: DownstreamTlsTerminator;
  originalDestination: ((t: { local: SocketEndpoint; remote: SocketEndpoint }) => SocketEndpoint | undefined) | undefined;
  identityOf: ((ip: string) => number | undefined) | undefined;
  http1: (conn: DownstreamConnection) => void;
  http2: (conn: DownstreamConnection) => void;
  logger: ProxyLogger | undefined;
  listenerFiltersTimeoutMs: number | undefined;
  /** Handed to meshd filters (MeshdFilterConnection.dataPlane). */
  dataPlane: MeshdDataPlaneContext;
}

/** `::ffff:10.0.0.1` (a v4 peer on a dual-stack socket) → `10.0.0.1`, so matchers see one form. */
function normalizeIp(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

class FlowFacts {
  constructor(
    readonly acceptedAtMs: number,
    readonly source: FlowPeer,
    readonly destination: FlowPeer,
    readonly listener: string,
  ) {}

  publishTcp(filterChain: string, outcome: Pick<TcpFlowRecord, 'verdict' | 'reason' | 'upstream' | 'bytesSent' | 'bytesReceived' | 'policy'>): void {
    if (!isFlowObserved()) return;
    const record: TcpFlowRecord = {
      type: 'tcp',
      time: new Date(this.acceptedAtMs).toISOString(),
      source: this.source,
      destination: this.destination,
      listener: this.listener,
      filterChain,
      verdict: outcome.verdict,
      policy: outcome.policy,
      reason: outcome.reason,
      latencyMs: Date.now() - this.acceptedAtMs,
      upstream: outcome.upstream,
      bytesSent: outcome.bytesSent,
      bytesReceived: outcome.bytesReceived,
    };
    publishFlow(record);
  }
}

export async function setUpConnection(entry: ConnectionEntry, env: SetupEnvironment): Promise<void> {
  const raw = entry.raw;
  const acceptedAtMs = Date.now();
  const local: SocketEndpoint = { address: normalizeIp(raw.localAddress), port: raw.localPort ?? 0 };
  const remote: SocketEndpoint = { address: normalizeIp(raw.remoteAddress), port: raw.remotePort ?? 0 };
  if (!remote.address) {
    raw.destroy(); // the peer reset before accept completed
    return;
  }
  let listener = env.view.listener(entry.listenerName);
  if (!listener) {
    raw.destroy();
    return;
  }
  // original_dst: a redirected connection's destination comes from the datapath; otherwise (not
  // redirected, or no resolver) it is the local address, as Envoy's filter falls back. A
  // connection BPF TPROXY assigned to a transparent listener (a client from another node) has
  // its original destination as local address: the datapath knows no tuple for it.
  let destination = local;
  if (listener.useOriginalDst && env.originalDestination && entry.localIsOriginalDestination !== true) {
    const resolved = env.originalDestination({ local, remote });
    if (resolved) destination = { address: normalizeIp(resolved.address), port: resolved.port };
  }
  const sourceIdentity = env.identityOf?.(remote.address);
  const destinationIdentity = env.identityOf?.(destination.address);
  const flow = new FlowFacts(
    acceptedAtMs,
    { ip: remote.address, port: remote.port, identity: sourceIdentity },
    { ip: destination.address, port: destination.port, identity: destinationIdentity },
    listener.name,
  );
  const facts: ConnectionFacts = {
    destinationIp: destination.address,
    destinationPort: destination.port,
    sourceIp: remote.address,
    sourcePort: remote.port,
    serverName: '',
    transportProtocol: 'raw_buffer',
    applicationProtocols: [],
  };
  const filtersTimeoutMs = listener.listenerFiltersTimeoutMs ?? env.listenerFiltersTimeoutMs ?? DEFAULT_LISTENER_FILTERS_TIMEOUT_MS;

  if (listener.tlsInspector) {
    const outcome = await peekSocket(raw, inspectClientHello, { maxBytes: CLIENT_HELLO_PEEK_LIMIT, timeoutMs: filtersTimeoutMs, clock: env.clock });
    if (outcome.kind === 'decided') {
      const hello = outcome.value;
      if (hello.kind === 'malformed') {
        // Envoy's tls_inspector closes on a ClientHello it cannot parse (or one that is too large).
        raw.destroy();
        flow.publishTcp('', { verdict: 'DENIED', reason: 'tls_inspector_malformed', upstream: undefined, bytesSent: 0, bytesReceived: 0, policy: undefined });
        return;
      }
      if (hello.kind === 'tls') {
        facts.transportProtocol = 'tls';
        facts.serverName = hello.serverName.toLowerCase();
        facts.applicationProtocols = hello.alpn;
      }
    } else if (outcome.kind === 'timeout' && listener.continueOnListenerFiltersTimeout) {
      // select with what is known (raw_buffer, no SNI)
    } else {
      raw.destroy();
      if (outcome.kind !== 'closed') {
        flow.publishTcp('', { verdict: 'DENIED', reason: `tls_inspector_${outcome.kind}`, upstream: undefined, bytesSent: 0, bytesReceived: 0, policy: undefined });
      }
      return;
    }
    // The listener may have been updated or removed while the ClientHello was awaited.
    listener = env.view.listener(entry.listenerName);
    if (!listener) {
      raw.destroy();
      return;
    }
  }

  const chain = listener.selectFilterChain(facts);
  if (!chain) {
    raw.destroy();
    flow.publishTcp('', { verdict: 'DENIED', reason: 'no_filter_chain', upstream: undefined, bytesSent: 0, bytesReceived: 0, policy: undefined });
    return;
  }
  entry.chainRef = chainRefOf(listener, chain);

  const downstreamFacts: DownstreamFacts = {
    sourceIp: remote.address,
    sourcePort: remote.port,
    destinationIp: destination.address,
    destinationPort: destination.port,
    serverName: facts.serverName,
  };
  let socket: Socket | TLSSocket = raw;
  let negotiatedAlpn: string | undefined;
  if (chain.downstreamTls) {
    const terminated = await env.terminator.terminate(raw, chain.downstreamTls, { timeoutMs: filtersTimeoutMs, clock: env.clock });
    if (!terminated.ok) {
      env.logger?.debug({ listener: listener.name, chain: chain.name, reason: terminated.reason, detail: terminated.detail }, 'TLS termination failed');
      raw.destroy();
      flow.publishTcp(chain.name, { verdict: 'DENIED', reason: terminated.reason, upstream: undefined, bytesSent: 0, bytesReceived: 0, policy: undefined });
      return;
    }
    socket = terminated.socket;
    entry.socket = socket;
    socket.on('error', (err) => env.logger?.debug({ err, listener: listener?.name }, 'downstream TLS socket error'));
    // The manager tracks the raw socket's 'close'; make sure it follows the TLS socket's.
    socket.once('close', () => raw.destroy());
    negotiatedAlpn = terminated.alpn;
    if (terminated.serverName) downstreamFacts.serverName = terminated.serverName.toLowerCase();
    if (terminated.peerCertificate) downstreamFacts.peerCertificate = terminated.peerCertificate;
  }

  // Non-terminal network filters, in order.
  const filters = chain.networkFilters;
  for (let i = 0; i < filters.length - 1; i++) {
    const filter = filters[i];
    if (filter?.kind !== 'rbac') {
      // The config compiler only lets rbac through before the terminal filter; anything else here is
      // a filter this listener cannot run, and running the chain without it would skip its effect.
      env.logger?.warn({ listener: listener.name, chain: chain.name, filter: filter?.name }, 'network filter not runnable here; closing');
      socket.destroy();
      flow.publishTcp(chain.name, { verdict: 'ERROR', reason: 'filter_not_implemented', upstream: undefined, bytesSent: 0, bytesReceived: 0, policy: undefined });
      return;
    }
    const decision = filter.rbac.evaluate({
      directRemoteIp: remote.address,
      directRemotePort: remote.port,
      remoteIp: remote.address,
      destinationIp: destination.address,
      destinationPort: destination.port,
      requestedServerName: downstreamFacts.serverName,
      downstreamTls: chain.downstreamTls !== undefined,
      ...(downstreamFacts.peerCertificate ? { peerCertificate: downstreamFacts.peerCertificate } : {}),
    });
    if (!decision.allowed) {
      socket.destroy();
      flow.publishTcp(chain.name, { verdict: 'DENIED', reason: 'rbac_denied', policy: decision.policy, upstream: undefined, bytesSent: 0, bytesReceived: 0 });
      return;
    }
  }

  const terminal = filters[filters.length - 1];
  if (terminal?.kind === 'tcp_proxy') {
    entry.phase = 'tcp';
    runTcpProxy({
      downstream: socket,
      cluster: terminal.cluster,
      idleTimeoutMs: terminal.idleTimeoutMs,
      clusters: env.clusters,
      pick: { originalDestination: destination, host: downstreamFacts.serverName, downstreamProtocol: 'http1' },
      clock: env.clock,
      logger: env.logger,
      finish: (outcome) => flow.publishTcp(chain.name, { ...outcome, policy: undefined }),
    });
    return;
  }
  // The connection the terminal filter runs on. entry.conn carries the drain signal: the listener
  // manager calls its startDrain(), which runs the filter's onDrain callbacks (finish in-flight
  // requests, then close). Undefined, with the socket closed, when drained while still in the
  // listener phase: no request has started, nothing to finish.
  const adoptConnection = (phase: 'meshd' | 'http'): ListenerDownstreamConnection | undefined => {
    const conn = new ListenerDownstreamConnection({
      socket,
      facts: downstreamFacts,
      connectionFacts: facts,
      listener,
      chain,
      scheme: chain.downstreamTls ? 'https' : 'http',
      negotiatedAlpn,
      originalDestination: destination,
      sourceIdentity,
      destinationIdentity,
      acceptedAtMs,
      view: env.view,
      clusters: env.clusters,
      clock: env.clock,
      identityOf: env.identityOf,
      logger: env.logger,
    });
    if (entry.draining || socket.destroyed) {
      socket.destroy();
      return undefined;
    }
    entry.conn = conn;
    entry.phase = phase;
    return conn;
  };
  if (terminal?.kind === 'meshd' && isMeshdTerminalFilter(terminal.config)) {
    const conn = adoptConnection('meshd');
    if (!conn) return;
    handOverToMeshdFilter(terminal.config, meshdConnectionOf(conn, terminal.typeName, flow, remote, chain.downstreamTls !== undefined, env.dataPlane), env, chain);
    return;
  }
  if (terminal?.kind !== 'http_connection_manager') {
    env.logger?.warn({ listener: listener.name, chain: chain.name, filter: terminal?.name }, 'terminal network filter not implemented by the listener; closing');
    socket.destroy();
    flow.publishTcp(chain.name, { verdict: 'ERROR', reason: 'filter_not_implemented', upstream: undefined, bytesSent: 0, bytesReceived: 0, policy: undefined });
    return;
  }

  // A client may open a connection well before its first request (preconnect): the codec sniff waits
  // as long as the HCM lets an idle connection live, not the listener filters' short timeout.
  const protocol = await chooseHttpCodec(terminal.hcm.codec, socket, negotiatedAlpn, env.clock, terminal.hcm.idleTimeoutMs);
  if (protocol === undefined) {
    socket.destroy();
    return;
  }
  const conn = adoptConnection('http');
  if (!conn) return;
  handOver(conn, protocol, env, chain);
}

/** True for a compiled meshd filter config that runs connections (MeshdTerminalFilter). */
export function isMeshdTerminalFilter(config: unknown): config is MeshdTerminalFilter {
  return typeof config === 'object' && config !== null && typeof (config as { handleConnection?: unknown }).handleConnection === 'function';
}

function meshdConnectionOf(conn: ListenerDownstreamConnection, typeName: string, flow: FlowFacts, source: SocketEndpoint, downstreamTls: boolean, dataPlane: MeshdDataPlaneContext): MeshdFilterConnection {
  return {
    socket: conn.socket,
    source,
    destination: conn.originalDestination,
    sourceIdentity: conn.sourceIdentity,
    destinationIdentity: conn.destinationIdentity,
    listenerName: conn.listenerName,
    filterChainName: conn.filterChainName,
    downstreamTls,
    acceptedAtMs: conn.acceptedAtMs,
    currentConfig: () => {
      const chain = conn.currentChain();
      const terminal = chain?.networkFilters[chain.networkFilters.length - 1];
      return terminal?.kind === 'meshd' && terminal.typeName === typeName ? terminal.config : undefined;
    },
    clusters: conn.clusters,
    clock: conn.clock,
    logger: conn.logger,
    identityOf: (ip) => conn.identityOf(ip),
    publishFlow: (record) => conn.publishFlow(record),
    publishConnectionFlow: (outcome) => flow.publishTcp(conn.filterChainName, outcome),
    onDrain: (callback) => conn.onDrain(callback),
    get draining() {
      return conn.draining;
    },
    dataPlane,
  };
}

function handOverToMeshdFilter(filter: MeshdTerminalFilter, conn: MeshdFilterConnection, env: SetupEnvironment, chain: FilterChainConfig): void {
  try {
    filter.handleConnection(conn);
  } catch (err) {
    // A bug in a filter must cost one connection, not the process.
    env.logger?.error({ err, listener: conn.listenerName, chain: chain.name }, 'meshd filter threw while taking a connection');
    conn.socket.destroy();
    conn.publishConnectionFlow({ verdict: 'ERROR', reason: 'filter_error', policy: undefined, upstream: undefined, bytesSent: 0, bytesReceived: 0 });
  }
}

function handOver(conn: ListenerDownstreamConnection, protocol: 'http1' | 'http2', env: SetupEnvironment, chain: FilterChainConfig): void {
  try {
    if (protocol === 'http2') env.http2(conn);
    else env.http1(conn);
  } catch (err) {
    env.logger?.error({ err, listener: conn.listenerName, chain: chain.name, protocol }, 'HTTP handler threw while taking a connection');
    conn.socket.destroy();
  }
}

/**
 * Envoy's codec_type: AUTO takes the ALPN result when TLS negotiated one, else looks for the HTTP/2
 * client preface; undefined when the peer went away (or stalled) before the first bytes decided it.
 */
async function chooseHttpCodec(
  codec: 'auto' | 'http1' | 'http2',
  socket: Socket | TLSSocket,
  alpn: string | undefined,
  clock: CoarseClock,
  timeoutMs: number,
): Promise<'http1' | 'http2' | undefined> {
  if (codec === 'http1') return 'http1';
  if (codec === 'http2') return 'http2';
  if (alpn === 'h2') return 'http2';
  if (alpn === 'http/1.1' || alpn === 'http/1.0') return 'http1';
  const outcome = await peekSocket(socket, detectH2Preface, { maxBytes: H2_PREFACE_LENGTH, timeoutMs, clock });
  return outcome.kind === 'decided' ? outcome.value : undefined;
}

