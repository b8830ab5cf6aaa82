// Test support for the HTTP/1.1 data path: the real proxy pieces wired by hand, with no xDS stream —
// Envoy JSON resources → messageFromJson → ConfigStore (C1's compilers) → ListenerManager (the real
// listener layer) with the HTTP/1.1 handler and ViewClusterManager — plus small upstream servers
// that record exactly the bytes they receive. Everything listens on 127.0.0.1 port 0.
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { envoy, messageFromJson } from '../../xds/index.js';
import {
  compileCluster,
  compileListener,
  compileLoadAssignment,
  compileRouteConfiguration,
  compileSecret,
  ConfigStore,
  createCoarseClock,
  createHttp1Handler,
  Http1Pool,
  ListenerManager,
  subscribeFlows,
  ViewClusterManager,
  type FlowRecord,
} from '../../proxylib/index.js';
import { HTTP_RBAC_TYPE, loadAssignmentJson, meshdHcmJson } from './envoy-json.js';

export { HCM_TYPE, ROUTER_TYPE, HTTP_RBAC_TYPE as RBAC_TYPE } from './envoy-json.js';

/** An HTTP RBAC filter entry of http_filters (Envoy JSON). */
export function rbacFilter(name: string, action: 'ALLOW' | 'DENY', policies: Record<string, unknown>): unknown {
  return { name, typed_config: { '@type': HTTP_RBAC_TYPE, rules: { action, policies } } };
}

/** The HCM as meshd's translation builds it (normalize, merge slashes, reject escaped slashes, 403 → Access denied). */
export function hcmJson(httpFilters: unknown[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return meshdHcmJson({ statPrefix: 'test', routeSource: { rds: { config_source: { ads: {} }, route_config_name: 'routes' } }, httpFilters }, overrides);
}

export function listenerJson(hcm: Record<string, unknown>, transportSocket?: unknown): unknown {
  return {
    name: 'http',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [
      {
        name: 'chain',
        filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }],
        ...(transportSocket !== undefined ? { transport_socket: transportSocket } : {}),
      },
    ],
  };
}

/** A DownstreamTlsContext transport socket with an inline certificate. */
export function downstreamTlsJson(cert: string, key: string, alpn: string[] = ['http/1.1']): unknown {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { inline_string: key } }], alpn_protocols: alpn },
    },
  };
}

/** An UpstreamTlsContext transport socket trusting `ca`, sending `sni`. */
export function upstreamTlsJson(ca: string, sni: string): unknown {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni,
      common_tls_context: { validation_context: { trusted_ca: { inline_string: ca } } },
    },
  };
}

export function staticClusterJson(name: string, port: number, extra: Record<string, unknown> = {}): unknown {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: loadAssignmentJson(name, [{ host: '127.0.0.1', port }]),
    ...extra,
  };
}

/** One virtual host `*`, routes given as Envoy route JSON (default: everything to `backend`, no timeout). */
export function routesJson(routes: unknown[] = [{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '0s' } }], vhostExtra: Record<string, unknown> = {}): unknown {
  return { name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes, ...vhostExtra }] };
}

export interface ProxyUnderTest {
  port: number;
  store: ConfigStore;
  manager: ListenerManager;
  pool: Http1Pool;
  flows: FlowRecord[];
  /** Error-level log lines of the proxy (an internal error in the data path logs one). */
  errors: string[];
  applyRoutes(json: unknown): void;
  close(): Promise<void>;
}

function check<T>(kind: string, r: { ok: true; value: T } | { ok: false; problems: Array<{ path: string; message: string }> }): void {
  if (!r.ok) throw new Error(`${kind} rejected: ${r.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
}

export async function startProxy(options: { hcm: Record<string, unknown>; routes?: unknown; clusters: unknown[]; transportSocket?: unknown; observeFlows?: boolean }): Promise<ProxyUnderTest> {
  const store = new ConfigStore({ listener: compileListener, route: compileRouteConfiguration, cluster: compileCluster, endpoints: compileLoadAssignment, secret: compileSecret });
  const apply = (kind: 'listener' | 'route' | 'cluster', message: { name: string }): void => {
    const r = store.apply(kind, [{ name: message.name, version: '1', message }]);
    if (r.problems.length > 0) throw new Error(`${kind} rejected: ${r.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  };
  for (const c of options.clusters) {
    const m = messageFromJson(envoy.ClusterSchema, c);
    check('cluster', compileCluster(m));
    apply('cluster', m);
  }
  const routes = messageFromJson(envoy.RouteConfigurationSchema, options.routes ?? routesJson());
  apply('route', routes);
  const listener = messageFromJson(envoy.ListenerSchema, listenerJson(options.hcm, options.transportSocket));
  apply('listener', listener);
  const clock = createCoarseClock(20);
  const clusters = new ViewClusterManager(store, { clock });
  const pool = new Http1Pool({ clusters, clock });
  const errors: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn() {},
    error(obj: object, msg?: string) {
      const err = (obj as { err?: unknown }).err;
      errors.push(`${msg ?? ''}: ${err instanceof Error ? (err.stack ?? err.message) : JSON.stringify(obj)}`);
    },
  };
  const manager = new ListenerManager(store, {
    clusters,
    logger,
    clock,
    http1: createHttp1Handler(pool),
    http2: (conn) => conn.socket.destroy(),
    drainTimeoutMs: 2000,
  });
  await manager.start();
  const failures = manager.bindFailures();
  if (failures.length > 0) throw new Error(`bind failed: ${JSON.stringify(failures)}`);
  const bound = manager.bound()[0];
  if (!bound) throw new Error('the listener was not bound');
  const flows: FlowRecord[] = [];
  const unsubscribe = options.observeFlows === false ? () => {} : subscribeFlows((r) => flows.push(r));
  return {
    port: bound.bound.port,
    store,
    manager,
    pool,
    flows,
    errors,
    applyRoutes(json) {
      apply('route', messageFromJson(envoy.RouteConfigurationSchema, json));
    },
    async close() {
      unsubscribe();
      await manager.close();
      pool.close();
    },
  };
}

/**
 * Starts a proxy whose one cluster, `backend`, is `upstream`, runs `body` against it, then closes the
 * proxy and the upstream — also when `body` (or the proxy's start) fails.
 */
export async function withBackendProxy<U extends { port: number; close(): Promise<void> }>(
  upstream: U,
  options: { hcm: Record<string, unknown>; routes?: unknown },
  body: (proxy: ProxyUnderTest) => Promise<void>,
): Promise<void> {
  try {
    const proxy = await startProxy({ ...options, clusters: [staticClusterJson('backend', upstream.port)] });
    try {
      await body(proxy);
    } finally {
      await proxy.close();
    }
  } finally {
    await upstream.close();
  }
}

// ---- upstreams -----------------------------------------------------------------------------------

export interface EchoUpstream {
  port: number;
  /** Requests seen: method, url, headers, body length. */
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; bodyBytes: number }>;
  connections: number;
  server: http.Server;
  close(): Promise<void>;
}

/**
 * A node:http upstream. Default handler: 200 with a JSON echo of method, url, headers and the body
 * length (bodies are streamed and counted, never buffered).
 */
export async function startEchoUpstream(handler?: http.RequestListener): Promise<EchoUpstream> {
  const requests: EchoUpstream['requests'] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: 0 };
    requests.push(entry);
    if (handler) {
      handler(req, res);
      return;
    }
    req.on('data', (c: Buffer) => (entry.bodyBytes += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyBytes: entry.bodyBytes });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.on('connection', () => connections++);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    get connections() {
      return connections;
    },
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawUpstream {
  port: number;
  /** Every byte received, per connection. */
  received: Buffer[][];
  close(): Promise<void>;
}

/** A raw TCP upstream that records what it receives and answers each request head with `respond`. */
export async function startRawUpstream(respond: (socket: net.Socket, data: Buffer, all: Buffer) => void): Promise<RawUpstream> {
  const received: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const mine: Buffer[] = [];
    received.push(mine);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      mine.push(d);
      respond(socket, d, Buffer.concat(mine));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Sends raw bytes on a new connection and collects everything until the server closes or `idleMs`
 * passes without data (bounded by `maxMs`).
 */
export function rawExchange(port: number, data: Buffer | string, options: { idleMs?: number; maxMs?: number; endAfterWrite?: boolean } = {}): Promise<{ text: string; closed: boolean }> {
  const idleMs = options.idleMs ?? 300;
  const maxMs = options.maxMs ?? 5000;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(idle);
      clearTimeout(max);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const max = setTimeout(finish, maxMs);
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(finish, idleMs);
    };
    socket.on('connect', () => {
      socket.write(data);
      if (options.endAfterWrite) socket.end();
      arm();
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      arm();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** Splits a raw HTTP/1.1 response stream into status codes (only heads; enough for counting responses). */
export function statusLines(text: string): number[] {
  const out: number[] = [];
  const re = /HTTP\/1\.[01] (\d{3})/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push(Number(m[1]));
  return out;
}
