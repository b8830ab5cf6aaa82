// Test support for the HTTP/2 data path (used by proxylib/http2/*.test.ts; kept in test/ so it does
// not ship in dist/proxylib). It stands in for the listener layer the way the ListenerManager hands connections
// over — peek the h2 preface, unshift it, pause, build a DownstreamConnection — so the handler is
// tested on real sockets with real clients before and independently of the full xDS-driven proxy.
// Config objects are hand-built compiled config (HcmConfig, RouteTable, ClusterConfig); RBAC filters
// come from Envoy JSON through the real RBAC compiler.
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileHttpRbac, createCoarseClock, publishFlow, ViewClusterManager } from '../../proxylib/index.js';
import type {
  ClusterConfig,
  CoarseClock,
  ConfigView,
  DownstreamConnection,
  EndpointAddress,
  HcmConfig,
  RbacFilter,
  RouteEntry,
  RouteRequest,
  RouteTable,
  SecretMaterial,
  UpstreamTlsConfig,
} from '../../proxylib/index.js';

export const testClock: CoarseClock = createCoarseClock(20);

/** An HTTP RBAC filter from its Envoy JSON (envoy.extensions.filters.http.rbac.v3.RBAC). */
export function httpRbacFromJson(json: unknown): RbacFilter {
  const compiled = compileHttpRbac(messageFromJson(envoy.HttpRbacSchema, json), 'typed_config');
  if (!compiled.ok) throw new Error(`RBAC config rejected: ${compiled.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return compiled.value;
}

/** An RBAC filter (action DENY) denying every path starting with one of `prefixes`. */
export function denyPathPrefixes(prefixes: string[]): RbacFilter {
  return httpRbacFromJson({
    rules: {
      action: 'DENY',
      policies: Object.fromEntries(
        prefixes.map((prefix, i) => [
          `deny-${i}`,
          { permissions: [{ url_path: { path: { prefix } } }], principals: [{ any: true }] },
        ]),
      ),
    },
  });
}

/** `p`, or a rejection naming `what` once `ms` pass (so a hung stream fails its test instead of the run). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}

export interface TestRoute {
  prefix: string;
  cluster: string;
  /** Route timeout (0 = none; default 0 so streaming tests are not cut). */
  timeoutMs?: number;
  /** Route idle_timeout (-1 = unset: the HCM's stream_idle_timeout applies). */
  idleTimeoutMs?: number;
  hostRewrite?: string;
}

/** Routes on path prefix, in order (first match), any authority. */
export function prefixRouteTable(routes: TestRoute[]): RouteTable {
  const entries: Array<{ prefix: string; entry: RouteEntry }> = routes.map((r, i) => ({
    prefix: r.prefix,
    entry: {
      name: `route-${i}`,
      virtualHost: 'test',
      action: {
        kind: 'route',
        cluster: () => r.cluster,
        timeoutMs: r.timeoutMs ?? 0,
        idleTimeoutMs: r.idleTimeoutMs ?? -1,
        rewritePath: (p: string) => p,
        hostRewriteLiteral: r.hostRewrite,
        upgrades: new Map(),
      },
    },
  }));
  return {
    name: 'test-routes',
    select(request: RouteRequest): RouteEntry | undefined {
      for (const e of entries) if (request.path.startsWith(e.prefix)) return e.entry;
      return undefined;
    },
  };
}

/** An HCM as meshd's translation builds it: RBAC filters, router, `Access denied\r\n` for 403. */
export function testHcm(routes: RouteTable, rbac: RbacFilter[] = [], overrides: Partial<HcmConfig> = {}): HcmConfig {
  return {
    statPrefix: 'test',
    codec: 'auto',
    routes: { kind: 'inline', table: routes },
    httpFilters: [...rbac.map((f, i) => ({ kind: 'rbac' as const, name: `rbac-${i}`, rbac: f })), { kind: 'router', name: 'envoy.filters.http.router' }],
    normalizePath: true,
    mergeSlashes: true,
    escapedSlashes: 'keep',
    useRemoteAddress: true,
    skipXffAppend: true,
    localReplyMappers: [{ whenStatus: 403, statusOverride: undefined, body: 'Access denied\r\n' }],
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

export function staticCluster(name: string, endpoints: EndpointAddress[], options: Partial<ClusterConfig> & { upstreamTls?: UpstreamTlsConfig | undefined } = {}): ClusterConfig {
  return {
    name,
    discovery: { kind: 'static', endpoints },
    connectTimeoutMs: 2_000,
    lbPolicy: 'round_robin',
    upstreamTls: undefined,
    httpProtocol: 'http2',
    idleTimeoutMs: 3_600_000,
    maxRequestsPerConnection: undefined,
    perConnectionBufferLimitBytes: 1 << 20,
    ...options,
  };
}

/** A ConfigView holding only clusters and secrets (what the cluster manager reads). */
export function testView(clusters: ClusterConfig[], secrets: SecretMaterial[] = []): ConfigView {
  const byName = new Map(clusters.map((c) => [c.name, c]));
  const secretByName = new Map(secrets.map((s) => [s.name, s]));
  return {
    listener: () => undefined,
    listenerNames: () => [],
    routeTable: () => undefined,
    cluster: (n) => byName.get(n),
    endpoints: () => undefined,
    secret: (n) => secretByName.get(n),
    onChange: () => () => {},
  };
}

export interface TestConnection extends DownstreamConnection {
  /** Starts draining (as the ListenerManager does when the chain goes away). */
  drain(): void;
}

export interface FrontOptions {
  handler: (conn: DownstreamConnection) => void;
  view: ConfigView;
  /** Read per request, like DownstreamConnection.hcm(); return undefined to simulate a removed chain. */
  hcm: () => HcmConfig | undefined;
  /** Terminate TLS (ALPN h2) with this certificate instead of plaintext h2c. */
  tls?: { key: string; cert: string };
}

export interface Front {
  port: number;
  /** h2c or https URL of the front. */
  url: string;
  readonly connections: Set<TestConnection>;
  drainAll(): void;
  close(): Promise<void>;
}

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** A listener stand-in on 127.0.0.1:0 handing HTTP/2 connections to `handler`. */
export async function startFront(options: FrontOptions): Promise<Front> {
  const clusters = new ViewClusterManager(options.view, { clock: testClock });
  const connections = new Set<TestConnection>();
  const sockets = new Set<net.Socket>();

  const adopt = (socket: net.Socket | tls.TLSSocket, scheme: 'http' | 'https'): void => {
    const drainCallbacks: Array<() => void> = [];
    let draining = false;
    const local = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const conn: TestConnection = {
      socket,
      facts: {
        sourceIp: socket.remoteAddress ?? '',
        sourcePort: socket.remotePort ?? 0,
        destinationIp: local.address,
        destinationPort: local.port,
        serverName: '',
      },
      connectionFacts: {
        destinationIp: local.address,
        destinationPort: local.port,
        sourceIp: socket.remoteAddress ?? '',
        sourcePort: socket.remotePort ?? 0,
        serverName: '',
        transportProtocol: scheme === 'https' ? 'tls' : 'raw_buffer',
        applicationProtocols: [],
      },
      listenerName: 'test-listener',
      filterChainName: 'test-chain',
      scheme,
      negotiatedAlpn: scheme === 'https' ? 'h2' : undefined,
      originalDestination: local,
      sourceIdentity: undefined,
      destinationIdentity: undefined,
      acceptedAtMs: Date.now(),
      hcm: options.hcm,
      routeTable: () => {
        const hcm = options.hcm();
        return hcm?.routes.kind === 'inline' ? hcm.routes.table : undefined;
      },
      view: options.view,
      clusters,
      clock: testClock,
      publishFlow,
      identityOf: () => undefined,
      onDrain(callback) {
        if (draining) {
          callback();
          return () => {};
        }
        drainCallbacks.push(callback);
        return () => {
          const i = drainCallbacks.indexOf(callback);
          if (i >= 0) drainCallbacks.splice(i, 1);
        };
      },
      get draining() {
        return draining;
      },
      logger: undefined,
      drain() {
        if (draining) return;
        draining = true;
        for (const cb of drainCallbacks.splice(0)) cb();
      },
    };
    connections.add(conn);
    socket.once('close', () => connections.delete(conn));
    options.handler(conn);
  };

  let server: net.Server;
  if (options.tls) {
    server = tls.createServer({ key: options.tls.key, cert: options.tls.cert, ALPNProtocols: ['h2'] }, (socket) => {
      socket.pause();
      adopt(socket, 'https');
    });
  } else {
    server = net.createServer((socket) => {
      // What the listener does for codec 'auto' on plaintext: read the first bytes, check for the h2
      // preface, give them back (unshift) and hand over a paused socket.
      let peeked = Buffer.alloc(0);
      const onReadable = (): void => {
        let chunk: Buffer | null;
        while ((chunk = socket.read() as Buffer | null) !== null) peeked = Buffer.concat([peeked, chunk]);
        if (peeked.length < PREFACE.length) return;
        socket.off('readable', onReadable);
        if (peeked.subarray(0, PREFACE.length).toString('latin1') !== PREFACE) {
          socket.destroy();
          return;
        }
        socket.unshift(peeked);
        socket.pause();
        adopt(socket, 'http');
      };
      socket.on('readable', onReadable);
      socket.on('error', () => {});
    });
  }
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    connections,
    drainAll() {
      for (const c of connections) c.drain();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
