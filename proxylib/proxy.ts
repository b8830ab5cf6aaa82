// BuiltinProxy: meshd's built-in L7 proxy as one object. It wires
//   xDS client (Delta ADS) → ConfigStore (compiled, applied per resource) → ListenerManager (binds
//   the listeners of the store, follows its changes, drains removed ones)
// and an optional admin HTTP server. The data plane only ever reads the store (a ConfigView), so a
// refused (NACKed) resource can never reach it, and an accepted one reaches it in one synchronous step.
import { toJson, type DescMessage } from '@bufbuild/protobuf';
import { NOOP_LOGGER, envoy, xdsRegistry } from '../xds/index.js';
import { startAdminServer, type AdminServer } from './admin/index.js';
import { ConfigStore, defaultCompilers, type AcceptedResource, type ConfigView, type ResourceCompilers, type ResourceKind } from './config-store/index.js';
import type { DnsAnswerObserver } from './dns/types.js';
import { ProxyError } from './errors.js';
import { subscribeFlows, type FlowRecord } from './flow/index.js';
import { Http1Pool, createHttp1Handler } from './http1/index.js';
import { createHttp2ConnectionHandler } from './http2/index.js';
import { ListenerManager, coarseClock, type BoundListener, type OriginalDestinationResolver, type ProxyLogger } from './listener/index.js';
import { ViewClusterManager } from './upstream/index.js';
import { DeltaXdsClient, type XdsClientEvent } from './xds-client/index.js';

export interface BuiltinProxyOptions {
  /** xDS server: `host:port`, `[ipv6]:port` or `unix:/path`. */
  xds: string;
  nodeId: string;
  /** Node cluster sent to the server (default ''). */
  cluster?: string | undefined;
  /** Admin server address `host:port` (port 0 → ephemeral); none when unset. */
  admin?: string | undefined;
  /** Transparent mode: the datapath's original destination of a redirected connection. */
  originalDestination?: OriginalDestinationResolver | undefined;
  /** Transparent mode: the ipcache's security identity of an address. */
  identityOf?: ((ip: string) => number | undefined) | undefined;
  logger?: ProxyLogger | undefined;
  /** How long draining connections may finish on listener removal and close() (default 5000 ms). */
  drainTimeoutMs?: number | undefined;
  /**
   * Port handover (default false): listeners bind their fixed ports shareably (TCP SO_REUSEPORT,
   * UDP SO_REUSEADDR), so a restarted proxy takes the ports over while this one drains; with
   * net.ipv4.tcp_migrate_req=1 queued connections move to it. Off: plain binds, EADDRINUSE for a
   * second process. Only for a proxy the agent runs (any process of the user could share the ports).
   */
  portHandover?: boolean | undefined;
  /** Compile functions (default: proxylib/config's). */
  compilers?: ResourceCompilers | undefined;
  /** Reconnect backoff of the xDS client. */
  backoff?: { initialMs?: number; maxMs?: number } | undefined;
  /**
   * Count requests and connections by verdict for /stats (default true). Counting subscribes to the
   * `meshd:flow` channel, so the data plane then builds a flow record for every request; turn it off
   * where nothing reads /stats and no other subscriber exists (benchmarks).
   */
  countFlows?: boolean | undefined;
  /**
   * The DNS proxy's answer hook (the learning side: FQDN cache, identities, ipcache): called for
   * every allowed answer with A/AAAA records, which is held until it resolves or the max delay passes.
   */
  dnsAnswerObserver?: DnsAnswerObserver | undefined;
  /** Longest an answer is held for dnsAnswerObserver (default 100 ms, Cilium's tofqdns-proxy-response-max-delay). */
  dnsResponseMaxDelayMs?: number | undefined;
  /** Builds the data plane over the store (default: the ListenerManager with the HTTP/1.1 and HTTP/2 handlers). */
  dataPlane?: ((view: ConfigView, deps: DataPlaneDeps) => DataPlane) | undefined;
}

/** The part of the proxy that carries traffic, over the store (the ListenerManager and its handlers). */
export interface DataPlane {
  /** Listeners bound now. */
  bound(): BoundListener[];
  /** Resolves when every listener of the view has been bound (or has failed to bind). */
  settled(timeoutMs?: number): Promise<void>;
  /** Listeners that could not bind (MESHD_ERR_PROXY_BIND), for /listeners. */
  bindFailures?(): Array<{ listener: string; address: { address: string; port: number }; code: string; message: string }>;
  /** Drains (bounded by the drain timeout), then closes every listener and connection. */
  close(): Promise<void>;
}

export interface DataPlaneDeps {
  originalDestination: OriginalDestinationResolver | undefined;
  identityOf: ((ip: string) => number | undefined) | undefined;
  logger: ProxyLogger;
  drainTimeoutMs: number | undefined;
  portHandover?: boolean | undefined;
  dnsAnswerObserver?: DnsAnswerObserver | undefined;
  dnsResponseMaxDelayMs?: number | undefined;
}

/**
 * The default data plane: D-listener's ListenerManager over the store, the view-backed ClusterManager,
 * and the HTTP/1.1 and HTTP/2 connection handlers. Everything reads the store per connection or
 * request, so accepted xDS updates apply without restarts.
 */
function startDefaultDataPlane(view: ConfigView, deps: DataPlaneDeps): DataPlane {
  // Loop guard: an ORIGINAL_DST cluster must never dial one of the proxy's own listeners (a connection
  // that reached the proxy directly, not through the redirect, has the proxy as its destination).
  let manager: ListenerManager | undefined;
  const clusters = new ViewClusterManager(view, { clock: coarseClock, isOwnAddress: (address, port) => manager?.isOwnAddress(address, port) ?? false });
  // One upstream keep-alive pool per proxy, closed with it (the module-wide default pool is not).
  const http1Pool = new Http1Pool({ clusters, clock: coarseClock });
  const http2 = createHttp2ConnectionHandler();
  const listeners = new ListenerManager(view, {
    clusters,
    originalDestination: deps.originalDestination,
    identityOf: deps.identityOf,
    http1: createHttp1Handler(http1Pool),
    http2,
    logger: deps.logger,
    drainTimeoutMs: deps.drainTimeoutMs,
    portHandover: deps.portHandover,
    dnsAnswerObserver: deps.dnsAnswerObserver,
    dnsResponseMaxDelayMs: deps.dnsResponseMaxDelayMs,
  });
  manager = listeners;
  return {
    bound: () => listeners.bound(),
    bindFailures: () => listeners.bindFailures().map((f) => ({ listener: f.listener, address: f.address, code: f.error.code, message: f.error.message })),
    settled: (timeoutMs) => withTimeout(listeners.settled(), timeoutMs),
    close: async () => {
      await listeners.close();
      http2.close();
      http1Pool.close();
    },
  };
}

/** Resolves when `p` does, or after `timeoutMs` (listeners that are still binding are reported by bound()/bindFailures()). */
async function withTimeout(p: Promise<void>, timeoutMs: number | undefined): Promise<void> {
  if (timeoutMs === undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}

const SCHEMA_OF_KIND: Record<ResourceKind, DescMessage> = {
  listener: envoy.ListenerSchema,
  route: envoy.RouteConfigurationSchema,
  cluster: envoy.ClusterSchema,
  endpoints: envoy.ClusterLoadAssignmentSchema,
  secret: envoy.SecretSchema,
};

export class BuiltinProxy {
  readonly store: ConfigStore;
  readonly xds: DeltaXdsClient;
  private readonly logger: ProxyLogger;
  private readonly counters = new Map<string, number>();
  private readonly unsubscribes: Array<() => void> = [];
  private dataPlane: DataPlane | undefined;
  private admin: AdminServer | undefined;
  private closed = false;
  private readonly startedAt = new Date();

  private constructor(private readonly opts: BuiltinProxyOptions) {
    this.logger = opts.logger ?? NOOP_LOGGER;
    this.store = new ConfigStore(opts.compilers ?? defaultCompilers);
    this.xds = new DeltaXdsClient({
      server: opts.xds,
      node: { id: opts.nodeId, cluster: opts.cluster ?? '' },
      store: this.store,
      logger: this.logger,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
    });
  }

  /**
   * Starts the data plane over the (empty) store, the admin server and the xDS stream, and returns
   * at once: listeners appear as their resources are accepted. Await `ready()` for the first
   * complete configuration. Throws MESHD_ERR_PROXY_BAD_ADDRESS / MESHD_ERR_PROXY_BIND.
   */
  static async start(opts: BuiltinProxyOptions): Promise<BuiltinProxy> {
    const proxy = new BuiltinProxy(opts);
    try {
      await proxy.startParts();
    } catch (err) {
      await proxy.close();
      throw err;
    }
    return proxy;
  }

  private async startParts(): Promise<void> {
    if (this.opts.countFlows ?? true) this.unsubscribes.push(subscribeFlows((r) => this.countFlow(r)));
    this.unsubscribes.push(this.xds.onEvent((e) => this.countXds(e)));
    const build = this.opts.dataPlane ?? startDefaultDataPlane;
    this.dataPlane = build(this.store, {
      originalDestination: this.opts.originalDestination,
      identityOf: this.opts.identityOf,
      logger: this.logger,
      drainTimeoutMs: this.opts.drainTimeoutMs,
      portHandover: this.opts.portHandover,
      dnsAnswerObserver: this.opts.dnsAnswerObserver,
      dnsResponseMaxDelayMs: this.opts.dnsResponseMaxDelayMs,
    });
    if (this.opts.admin !== undefined) {
      this.admin = await startAdminServer(this.opts.admin, {
        readiness: () => this.readiness(),
        configDump: () => this.configDump(),
        listeners: () => ({ listeners: this.listeners(), bind_failures: this.dataPlane?.bindFailures?.() ?? [] }),
        stats: () => this.stats(),
      });
    }
    this.xds.start();
  }

  /** Resolves on the first complete configuration, with every listener bound (MESHD_ERR_PROXY_NOT_READY after `timeoutMs`). */
  async ready(timeoutMs?: number): Promise<void> {
    this.assertOpen();
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    await this.xds.ready(timeoutMs);
    if (this.dataPlane) await this.dataPlane.settled(deadline === undefined ? undefined : Math.max(0, deadline - Date.now()));
  }

  /** The admin server's bound address (`host:port`), when one was asked for. */
  get adminAddress(): string | undefined {
    return this.admin?.address;
  }

  /** Listeners bound now, with the real port of port-0 listeners. */
  listeners(): BoundListener[] {
    return this.dataPlane?.bound() ?? [];
  }

  /** The bound address of a listener by name (undefined when not bound). */
  listenerAddress(name: string): { address: string; port: number } | undefined {
    return this.listeners().find((l) => l.name === name)?.bound;
  }

  readiness(): { ready: boolean; reason: string } {
    const st = this.xds.status();
    if (st.ready) return { ready: true, reason: '' };
    const nack = this.xds.lastNack();
    return {
      ready: false,
      reason: `${st.connected ? 'connected to' : 'not connected to'} ${st.server}${st.lastError ? ` (${st.lastError})` : ''}; waiting for the first complete configuration${nack ? `; last NACK: ${nack.detail}` : ''}`,
    };
  }

  /** Counters: flows by verdict, xDS ACKs/NACKs/streams, listeners. Names are Envoy-style and stable. */
  stats(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.counters);
    const st = this.xds.status();
    out['xds.connected'] = st.connected ? 1 : 0;
    out['xds.streams'] = st.streams;
    out['xds.ready'] = st.ready ? 1 : 0;
    for (const t of st.types) {
      const short = t.typeUrl.slice(t.typeUrl.lastIndexOf('.') + 1);
      out[`xds.${short}.acks`] = t.acks;
      out[`xds.${short}.nacks`] = t.nacks;
    }
    out['xds.acks'] = st.types.reduce((n, t) => n + t.acks, 0);
    out['xds.nacks'] = st.types.reduce((n, t) => n + t.nacks, 0);
    out['listeners.configured'] = this.store.listenerNames().length;
    out['listeners.bound'] = this.listeners().length;
    out['server.uptime_s'] = Math.floor((Date.now() - this.startedAt.getTime()) / 1000);
    return out;
  }

  /** What /config_dump shows: every accepted resource (proto3 JSON) with its version, and the xDS state. Private keys are never shown. */
  configDump(): object {
    const st = this.xds.status();
    const nack = this.xds.lastNack();
    const dump = (kind: ResourceKind) =>
      [...this.store.accepted(kind).values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((r) => ({ name: r.name, version: r.version, last_updated: r.acceptedAt.toISOString(), resource: kind === 'secret' ? redactedSecret(r) : resourceJson(kind, r) }));
    return {
      node: { id: this.opts.nodeId, cluster: this.opts.cluster ?? '', user_agent_name: 'meshd-proxy' },
      xds: {
        server: st.server,
        connected: st.connected,
        streams: st.streams,
        ready: st.ready,
        last_error: st.lastError ?? null,
        types: st.types.map((t) => ({ type_url: t.typeUrl, accepted_version: t.acceptedVersion ?? null, acks: t.acks, nacks: t.nacks, subscribed: t.subscribed })),
        last_nack: nack
          ? { type_url: nack.typeUrl, version: nack.version, nonce: nack.nonce, at: nack.at.toISOString(), detail: nack.detail, applied: nack.applied, refused: nack.refused, problems: nack.problems.map((p) => ({ kind: p.kind, resource: p.resource, path: p.path, message: p.message })) }
          : null,
      },
      warming: { listeners: this.store.warmingNames('listener').sort(), clusters: this.store.warmingNames('cluster').sort() },
      listeners: dump('listener'),
      routes: dump('route'),
      clusters: dump('cluster'),
      endpoints: dump('endpoints'),
      secrets: dump('secret'),
      bound_listeners: this.listeners(),
    };
  }

  /** Stops taking new connections, lets in-flight requests finish (drain timeout), then stops everything. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.unsubscribes.splice(0)) u();
    await this.xds.close();
    if (this.dataPlane) {
      try {
        await this.dataPlane.close();
      } catch (err) {
        this.logger.warn({ err }, 'proxy: data plane close failed');
      }
    }
    await this.admin?.close();
  }

  private bump(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  private countFlow(r: FlowRecord): void {
    const verdict = r.verdict.toLowerCase();
    if (r.type === 'http') {
      this.bump('http.requests');
      this.bump(`http.requests.${verdict}`);
      if (r.reason) this.bump(`http.requests.${verdict}.${r.reason}`);
    } else if (r.type === 'kafka') {
      this.bump('kafka.requests');
      this.bump(`kafka.requests.${verdict}`);
      if (r.reason) this.bump(`kafka.requests.${verdict}.${r.reason}`);
    } else if (r.type === 'dns') {
      this.bump('dns.queries');
      this.bump(`dns.queries.${verdict}`);
      if (r.reason) this.bump(`dns.queries.${verdict}.${r.reason}`);
      // Answers released by tofqdns-proxy-response-max-delay before the observer finished.
      if (r.dns.observer?.outcome === 'timeout') this.bump('dns.answers.released_by_max_delay');
    } else {
      this.bump('tcp.connections');
      this.bump(`tcp.connections.${verdict}`);
      if (r.reason) this.bump(`tcp.connections.${verdict}.${r.reason}`);
    }
  }

  private countXds(e: XdsClientEvent): void {
    if (e.kind === 'disconnected') this.bump('xds.disconnects');
    if (e.kind === 'ready') this.logger.info({ node: this.opts.nodeId }, 'proxy: ready');
  }

  /** Throws MESHD_ERR_PROXY_CLOSED after close(). */
  assertOpen(): void {
    if (this.closed) throw new ProxyError('MESHD_ERR_PROXY_CLOSED', 'the proxy was used after close()');
  }
}

function resourceJson(kind: ResourceKind, r: AcceptedResource<unknown>): unknown {
  try {
    return toJson(SCHEMA_OF_KIND[kind], r.message as never, { registry: xdsRegistry });
  } catch (err) {
    return { error: `cannot render as JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** Envoy's config_dump redacts secrets too: show what kind of secret it is, never its material. */
function redactedSecret(r: AcceptedResource<unknown>): unknown {
  const s = r.message as envoy.Secret;
  return { name: s.name, type: s.type.case ?? 'unset', material: '[redacted]' };
}
