// Builders for listener-layer tests: an in-memory ConfigView that emits changes like the config store,
// and hand-built listener / chain / cluster / secret configs (plain objects of proxylib/config/types.ts),
// so the listener layer is tested on its own, without xDS or the config compiler.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type {
  ClusterConfig,
  ConfigChange,
  ConfigView,
  ConnectionFacts,
  FlowRecord,
  DownstreamTlsConfig,
  EndpointSet,
  FilterChainConfig,
  HcmConfig,
  ListenerConfig,
  NetworkFilterConfig,
  RbacContext,
  RbacFilter,
  ResourceKind,
  RouteTable,
  SecretMaterial,
  UpstreamTlsConfig,
} from '../../proxylib/index.js';
import { subscribeFlows } from '../../proxylib/index.js';

/** Resolves with the first flow record the predicate accepts (bounded by the test's own timeout). */
export function nextFlow(predicate: (r: FlowRecord) => boolean): Promise<FlowRecord> {
  return new Promise((resolve) => {
    const off = subscribeFlows((r) => {
      if (!predicate(r)) return;
      off();
      resolve(r);
    });
  });
}

export class MemoryConfigView implements ConfigView {
  readonly listeners = new Map<string, ListenerConfig>();
  readonly routes = new Map<string, RouteTable>();
  readonly clusters = new Map<string, ClusterConfig>();
  readonly endpointSets = new Map<string, EndpointSet>();
  readonly secrets = new Map<string, SecretMaterial>();
  private readonly subscribers = new Set<(change: ConfigChange) => void>();

  listener(name: string): ListenerConfig | undefined {
    return this.listeners.get(name);
  }
  listenerNames(): string[] {
    return [...this.listeners.keys()];
  }
  routeTable(name: string): RouteTable | undefined {
    return this.routes.get(name);
  }
  cluster(name: string): ClusterConfig | undefined {
    return this.clusters.get(name);
  }
  endpoints(name: string): EndpointSet | undefined {
    return this.endpointSets.get(name);
  }
  secret(name: string): SecretMaterial | undefined {
    return this.secrets.get(name);
  }
  onChange(listener: (change: ConfigChange) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }

  setListener(l: ListenerConfig): void {
    this.upsert('listener', this.listeners, l.name, l);
  }
  removeListener(name: string): void {
    this.remove('listener', this.listeners, name);
  }
  setCluster(c: ClusterConfig): void {
    this.upsert('cluster', this.clusters, c.name, c);
  }
  setEndpoints(e: EndpointSet): void {
    this.upsert('endpoints', this.endpointSets, e.name, e);
  }
  setSecret(s: SecretMaterial): void {
    this.upsert('secret', this.secrets, s.name, s);
  }
  setRoute(r: RouteTable): void {
    this.upsert('route', this.routes, r.name, r);
  }

  private upsert<T>(kind: ResourceKind, map: Map<string, T>, name: string, value: T): void {
    const existed = map.has(name);
    map.set(name, value);
    this.emit({ kind, added: existed ? [] : [name], updated: existed ? [name] : [], removed: [] });
  }
  private remove<T>(kind: ResourceKind, map: Map<string, T>, name: string): void {
    if (!map.delete(name)) return;
    this.emit({ kind, added: [], updated: [], removed: [name] });
  }
  private emit(change: ConfigChange): void {
    for (const s of this.subscribers) s(change);
  }
}

/** The subset of FilterChainMatch the listener tests use. */
export interface ChainMatch {
  serverNames?: string[];
  transportProtocol?: 'tls' | 'raw_buffer';
  destinationPort?: number;
}

export interface TestChain {
  chain: FilterChainConfig;
  match?: ChainMatch;
}

function serverNameScore(patterns: string[] | undefined, sni: string): number {
  // Envoy: exact names beat wildcards; the longest wildcard suffix wins; no server_names matches any.
  if (!patterns || patterns.length === 0) return 0;
  let best = -1;
  for (const p of patterns) {
    if (p === sni) return 10_000;
    if (p.startsWith('*.') && sni.endsWith(p.slice(1)) && sni.length > p.length - 1) best = Math.max(best, p.length);
  }
  return best;
}

/**
 * A listener whose selectFilterChain implements destination_port, server_names (exact, then longest
 * `*.suffix`) and transport_protocol — enough for the listener tests; C1's compiler does the full order.
 */
export function buildListener(options: {
  name: string;
  address?: string;
  port?: number;
  chains: TestChain[];
  defaultChain?: FilterChainConfig;
  tlsInspector?: boolean;
  useOriginalDst?: boolean;
  listenerFiltersTimeoutMs?: number;
}): ListenerConfig {
  const chains = options.chains;
  return {
    name: options.name,
    addresses: [{ address: options.address ?? '127.0.0.1', port: options.port ?? 0, protocol: 'tcp' }],
    useOriginalDst: options.useOriginalDst ?? false,
    tlsInspector: options.tlsInspector ?? false,
    filterChains: chains.map((c) => c.chain),
    defaultFilterChain: options.defaultChain,
    needsTlsFacts: chains.some((c) => c.match?.serverNames !== undefined || c.match?.transportProtocol !== undefined),
    perConnectionBufferLimitBytes: 1 << 20,
    ...(options.listenerFiltersTimeoutMs !== undefined ? { listenerFiltersTimeoutMs: options.listenerFiltersTimeoutMs } : {}),
    selectFilterChain(facts: ConnectionFacts): FilterChainConfig | undefined {
      let candidates = chains.filter((c) => c.match?.destinationPort === undefined || c.match.destinationPort === facts.destinationPort);
      if (candidates.some((c) => c.match?.destinationPort !== undefined)) candidates = candidates.filter((c) => c.match?.destinationPort !== undefined);
      const scored = candidates.map((c) => ({ c, s: serverNameScore(c.match?.serverNames, facts.serverName) })).filter((x) => x.s >= 0);
      const top = Math.max(-1, ...scored.map((x) => x.s));
      candidates = scored.filter((x) => x.s === top).map((x) => x.c);
      const byTransport = candidates.filter((c) => c.match?.transportProtocol === facts.transportProtocol);
      if (byTransport.length > 0) candidates = byTransport;
      else candidates = candidates.filter((c) => c.match?.transportProtocol === undefined);
      return candidates[0]?.chain ?? options.defaultChain;
    },
  };
}

export function chainOf(name: string, filters: NetworkFilterConfig[], downstreamTls?: DownstreamTlsConfig): FilterChainConfig {
  return { name, downstreamTls, networkFilters: filters };
}

export function tcpProxyFilter(cluster: string, idleTimeoutMs = 0): NetworkFilterConfig {
  return { kind: 'tcp_proxy', name: 'envoy.filters.network.tcp_proxy', statPrefix: 'tcp', cluster, idleTimeoutMs };
}

/** A network RBAC filter (ALLOW action) that allows exactly the connections `allows` accepts. */
export function rbacFilter(policy: string, allows: (ctx: RbacContext) => boolean, action: 'ALLOW' | 'DENY' = 'ALLOW'): NetworkFilterConfig {
  const rbac: RbacFilter = {
    name: 'envoy.filters.network.rbac',
    action,
    evaluate(ctx) {
      const matched = allows(ctx);
      if (action === 'ALLOW') return { allowed: matched, policy: matched ? policy : undefined };
      return { allowed: !matched, policy: matched ? policy : undefined };
    },
  };
  return { kind: 'rbac', name: rbac.name, rbac };
}

export function hcmConfig(overrides: Partial<HcmConfig> = {}): HcmConfig {
  return {
    statPrefix: 'http',
    codec: 'auto',
    routes: { kind: 'inline', table: { name: 'local', select: () => undefined } },
    httpFilters: [{ kind: 'router', name: 'envoy.filters.http.router' }],
    normalizePath: true,
    mergeSlashes: true,
    escapedSlashes: 'keep',
    useRemoteAddress: true,
    skipXffAppend: true,
    localReplyMappers: [],
    requestHeadersTimeoutMs: 0,
    streamIdleTimeoutMs: 300_000,
    requestTimeoutMs: 0,
    idleTimeoutMs: 3_600_000,
    maxRequestHeadersKb: 60,
    maxHeadersCount: 100,
    upgrades: new Set(),
    allowConnect: false,
    serverName: 'meshd',
    ...overrides,
  };
}

export function hcmFilter(overrides: Partial<HcmConfig> = {}): NetworkFilterConfig {
  return { kind: 'http_connection_manager', name: 'envoy.filters.network.http_connection_manager', hcm: hcmConfig(overrides) };
}

export function downstreamTls(certificateSecrets: string[], overrides: Partial<DownstreamTlsConfig> = {}): DownstreamTlsConfig {
  return {
    certificates: certificateSecrets.map((name) => ({ kind: 'sds', name })),
    validation: undefined,
    requireClientCertificate: false,
    alpnProtocols: [],
    minVersion: undefined,
    maxVersion: undefined,
    ...overrides,
  };
}

export function staticCluster(name: string, endpoints: Array<{ address: string; port: number }>, overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name,
    discovery: { kind: 'static', endpoints: endpoints.map((e) => ({ ...e, weight: 1 })) },
    connectTimeoutMs: 2_000,
    lbPolicy: 'round_robin',
    upstreamTls: undefined,
    httpProtocol: 'http1',
    idleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: undefined,
    perConnectionBufferLimitBytes: 1 << 20,
    ...overrides,
  };
}

export function upstreamTls(overrides: Partial<UpstreamTlsConfig> = {}): UpstreamTlsConfig {
  return { sni: '', autoSni: false, autoSanValidation: false, validation: undefined, certificate: undefined, alpnProtocols: [], ...overrides };
}

export function certificateSecret(name: string, pair: { cert: string; key: string }): SecretMaterial {
  return { name, kind: 'tls_certificate', certificate: { certificateChain: pair.cert, privateKey: pair.key } };
}

export function validationSecret(name: string, trustedCa: string, matchSubjectAltName?: (san: { type: string; value: string }) => boolean): SecretMaterial {
  return { name, kind: 'validation_context', validation: { trustedCa, matchSubjectAltName } };
}

/** A TCP server on host (127.0.0.1):0 that answers every connection with `handler`; closes its sockets on close(). */
export async function startTcpServer(handler: (socket: Socket) => void, host = '127.0.0.1'): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    handler(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
