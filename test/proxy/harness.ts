// The end-to-end harness of the proxy suite: meshd's real XdsServer + SnapshotCache in this process,
// the built-in proxy (BuiltinProxy) as a Delta ADS client of it — configured only by xDS bytes over
// the wire, as it is in production — and recording upstream servers. Snapshots come from Envoy JSON
// (the proto3 JSON mapping a user writes for Envoy) or from policies through translateNode (what the
// agent serves). Everything started is registered in a Cleanup and ended by `close()`, even when a
// test fails half-way: the proxy (drained, then closed), the xDS server, upstreams with their open
// sockets, the temp dir. (Clients a test opens are the test's to close.)
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IdentityAllocator,
  RESERVED_IDENTITIES,
  Repository,
  SelectorCache,
  loadPolicyText,
  type EndpointSpec,
} from '../../policy/index.js';
import {
  ACCESS_DENIED_BODY,
  Snapshot,
  SnapshotCache,
  TYPE_URL,
  XdsServer,
  messageFromJson,
  messageSchemaOfUrl,
  translateNode,
  type IpCacheEntry,
  type NackStatus,
  type RedirectKey,
  type SnapshotMessages,
  type Translation,
} from '../../xds/index.js';
import { BuiltinProxy, type BuiltinProxyOptions } from '../../proxylib/index.js';
import { Cleanup, makeTempDir } from '../xds/real-client-setup.js';
import { findFreePort } from '../xds/child-process-harness.js';
import { HTTP_RBAC_TYPE, loadAssignmentJson, meshdHcmJson } from './envoy-json.js';

export { Cleanup, findFreePort };

export { HCM_TYPE, HTTP_RBAC_TYPE, ROUTER_TYPE, loadAssignmentJson } from './envoy-json.js';
export const HTTP_PROTOCOL_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
/** The body of a 403 under meshd's local reply mapper (what translation configures). */
export const ACCESS_DENIED = ACCESS_DENIED_BODY;

const READY_TIMEOUT_MS = 15_000;

export type Messages = Required<Pick<SnapshotMessages, 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets'>>;
type Json = Record<string, unknown>;

// ---- Envoy JSON → messages --------------------------------------------------------------------

/** One Envoy resource from its proto3 JSON (what a user writes for Envoy); throws with field paths. */
export function envoyResource<M>(typeUrl: string, json: unknown): M {
  const schema = messageSchemaOfUrl(typeUrl);
  if (!schema) throw new Error(`no schema for ${typeUrl}`);
  return messageFromJson(schema, json, typeUrl) as M;
}

/** Resources from Envoy JSON, by kind (each list optional). */
export function envoyMessages(json: { listeners?: unknown[]; routes?: unknown[]; clusters?: unknown[]; endpoints?: unknown[]; secrets?: unknown[] }): Messages {
  return {
    listeners: (json.listeners ?? []).map((j) => envoyResource(TYPE_URL.listener, j)),
    routes: (json.routes ?? []).map((j) => envoyResource(TYPE_URL.route, j)),
    clusters: (json.clusters ?? []).map((j) => envoyResource(TYPE_URL.cluster, j)),
    endpoints: (json.endpoints ?? []).map((j) => envoyResource(TYPE_URL.endpoint, j)),
    secrets: (json.secrets ?? []).map((j) => envoyResource(TYPE_URL.secret, j)),
  };
}

/** An HTTP RBAC config (Envoy JSON) allowing every request. */
export const ALLOW_ALL_RBAC: Json = { rules: { action: 'ALLOW', policies: { 'allow-all': { permissions: [{ any: true }], principals: [{ any: true }] } } } };

/** RBAC allowing requests whose path starts with one of `prefixes` (a policy per prefix, in name order). */
export function allowPathPrefixes(prefixes: readonly string[]): Json {
  const policies: Json = {};
  prefixes.forEach((prefix, i) => {
    policies[`allow-${String(i).padStart(3, '0')}`] = { permissions: [{ url_path: { path: { prefix } } }], principals: [{ any: true }] };
  });
  return { rules: { action: 'ALLOW', policies } };
}

export interface HttpListenerSpec {
  name: string;
  port: number;
  /** RDS route name (RDS over ADS, as meshd's translation) — or an inline route_config when `inlineRoute`. */
  routeName: string;
  /** HTTP RBAC filter config (Envoy JSON); none → router only. */
  rbac?: Json;
  /** Extra HCM fields, e.g. an unsupported one for a NACK test. */
  hcmExtra?: Json;
  inlineRoute?: Json;
}

/** An HTTP listener written the way meshd's translation writes its HCM (xds/resources/listener.ts). */
export function httpListenerJson(spec: HttpListenerSpec): Json {
  return {
    name: spec.name,
    address: { socket_address: { address: '127.0.0.1', port_value: spec.port } },
    filter_chains: [
      {
        name: `${spec.name}-chain`,
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: meshdHcmJson(
              {
                statPrefix: spec.name,
                routeSource: spec.inlineRoute ? { route_config: spec.inlineRoute } : { rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: spec.routeName } },
                httpFilters: spec.rbac ? [{ name: 'meshd.rbac.allow', typed_config: { '@type': HTTP_RBAC_TYPE, ...spec.rbac } }] : [],
              },
              spec.hcmExtra,
            ),
          },
        ],
      },
    ],
  };
}

/** A route table sending everything (or each prefix) to a cluster. */
export function routeJson(name: string, cluster: string, extraRoutes: Array<{ prefix: string; cluster: string }> = []): Json {
  return {
    name,
    virtual_hosts: [
      {
        name: `${name}-vh`,
        domains: ['*'],
        routes: [...extraRoutes.map((r) => ({ match: { prefix: r.prefix }, route: { cluster: r.cluster } })), { match: { prefix: '/' }, route: { cluster } }],
      },
    ],
  };
}

export function staticClusterJson(name: string, endpoints: Array<{ host: string; port: number }>, opts: { http2?: boolean } = {}): Json {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: loadAssignmentJson(name, endpoints),
    ...(opts.http2
      ? { typed_extension_protocol_options: { [HTTP_PROTOCOL_OPTIONS]: { '@type': `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS}`, explicit_http_config: { http2_protocol_options: {} } } } }
      : {}),
  };
}

export function edsClusterJson(name: string): Json {
  return { name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } } };
}

// ---- policies → messages (what the agent serves) ----------------------------------------------

export interface PolicyNode {
  translation: Translation;
  /** ipcache entries used (pod IPs → identities), for an identityOf resolver. */
  ipcache: IpCacheEntry[];
}

/**
 * Loads policy YAML, resolves it for `endpoints`, allocates identities and translates the node for
 * the built-in proxy, every listener on 127.0.0.1 at `proxyPortOf(key)`. Throws on policy problems.
 */
export function translatePolicies(yamlFiles: ReadonlyArray<{ name: string; text: string }>, endpoints: readonly EndpointSpec[], proxyPortOf: (key: RedirectKey) => number | undefined): PolicyNode {
  const repo = new Repository();
  for (const f of yamlFiles) {
    const loaded = loadPolicyText(f.name, f.text);
    if (loaded.problems.length > 0) throw new Error(`${f.name}: ${loaded.problems.map((p) => p.message).join('; ')}`);
    for (const p of loaded.policies) repo.upsertPolicy(p);
  }
  for (const e of endpoints) repo.upsertEndpoint(e);
  const allocator = new IdentityAllocator();
  const selectors = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectors.addIdentity(r.id, r.labels);
  const ipcache: IpCacheEntry[] = [];
  for (const e of repo.listEndpoints()) {
    const { id } = allocator.allocate(e.identityLabels);
    selectors.addIdentity(id, e.identityLabels);
    for (const ip of e.ips) ipcache.push({ prefix: `${ip}/${ip.includes(':') ? 128 : 32}`, identity: id });
  }
  const translation = translateNode({
    target: 'builtin',
    endpoints: repo.resolveAll(),
    identitiesOf: (s) => selectors.register(s).selections(),
    ipcache,
    proxyAddresses: ['127.0.0.1'],
    proxyPortOf,
  });
  return { translation, ipcache };
}

// ---- upstreams -------------------------------------------------------------------------------

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  remoteAddress: string;
}

/**
 * An HTTP/1.1 upstream that records what reaches it and answers `{"upstream": name, "path": url}`.
 * `?delay=MS` in the URL delays the answer (bounded at 10 s), for requests in flight during a change.
 */
export class RecordingUpstream {
  readonly seen: SeenRequest[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly name: string,
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(cleanup: Cleanup, name: string, opts: { host?: string; port?: number } = {}): Promise<RecordingUpstream> {
    const host = opts.host ?? '127.0.0.1';
    let upstream: RecordingUpstream | undefined;
    const server = createServer((req, res) => upstream!.handle(req, res));
    server.keepAliveTimeout = 60_000;
    server.listen(opts.port ?? 0, host);
    await once(server, 'listening');
    upstream = new RecordingUpstream(name, server, host, (server.address() as AddressInfo).port);
    server.on('connection', (s: Socket) => {
      upstream!.sockets.add(s);
      s.once('close', () => upstream!.sockets.delete(s));
    });
    cleanup.add(() => upstream!.close());
    return upstream;
  }

  get endpoint(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, remoteAddress: req.socket.remoteAddress ?? '' });
    const delay = Math.min(10_000, Number(/[?&]delay=(\d+)/.exec(req.url ?? '')?.[1] ?? 0));
    req.resume();
    req.once('end', () => {
      const answer = () => {
        if (res.destroyed) return;
        const body = JSON.stringify({ upstream: this.name, path: req.url });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- the harness -----------------------------------------------------------------------------

export class ProxyHarness {
  readonly cleanup = new Cleanup();
  readonly cache = new SnapshotCache();
  readonly nodeId: string;
  private server: XdsServer | undefined;
  private proxyInstance: BuiltinProxy | undefined;
  private versionCounter = 0;
  xdsAddress = '';
  dir = '';

  private constructor(nodeId: string) {
    this.nodeId = nodeId;
  }

  /** An xDS server on 127.0.0.1 (ephemeral port) with an empty cache; no proxy yet. */
  static async start(opts: { nodeId?: string } = {}): Promise<ProxyHarness> {
    const h = new ProxyHarness(opts.nodeId ?? 'e2e-node');
    try {
      h.dir = await makeTempDir(h.cleanup, 'meshd-proxy-e2e-');
      h.server = new XdsServer({ cache: h.cache, orderHoldMs: 500 });
      const server = h.server;
      h.cleanup.add(() => server.close());
      h.xdsAddress = await server.listen('127.0.0.1:0');
    } catch (err) {
      await h.close();
      throw err;
    }
    return h;
  }

  /** Serves `messages` to the node as a new snapshot version; returns that version. */
  setSnapshot(messages: Partial<Messages>, version = `v${++this.versionCounter}`): string {
    this.cache.setSnapshot(this.nodeId, Snapshot.fromMessages({ version, ...messages }));
    return version;
  }

  /**
   * Starts the built-in proxy against this server and waits (bounded) for its first complete
   * configuration with every listener bound — unless `waitReady` is false (e.g. nothing served yet).
   */
  async startProxy(opts: Partial<Omit<BuiltinProxyOptions, 'xds' | 'nodeId'>> & { waitReady?: boolean } = {}): Promise<BuiltinProxy> {
    const { waitReady = true, ...proxyOpts } = opts;
    const proxy = await BuiltinProxy.start({ xds: this.xdsAddress, nodeId: this.nodeId, drainTimeoutMs: 2000, backoff: { initialMs: 100, maxMs: 1000 }, ...proxyOpts });
    this.proxyInstance = proxy;
    this.cleanup.add(() => proxy.close());
    if (waitReady) await proxy.ready(READY_TIMEOUT_MS);
    return proxy;
  }

  get proxy(): BuiltinProxy {
    if (!this.proxyInstance) throw new Error('startProxy() first');
    return this.proxyInstance;
  }

  /** A recording upstream, closed with the harness. */
  upstream(name: string, opts: { host?: string; port?: number } = {}): Promise<RecordingUpstream> {
    return RecordingUpstream.start(this.cleanup, name, opts);
  }

  /** What the server knows of the node's client for a type: acked version and last NACK. */
  typeStatus(typeUrl: string): { ackedVersion?: string | undefined; lastNack?: NackStatus | undefined } {
    const node = this.cache.status().find((n) => n.nodeId === this.nodeId);
    const t = node?.types.find((x) => x.typeUrl === typeUrl);
    return { ackedVersion: t?.ackedVersion, lastNack: t?.lastNack };
  }

  /** Waits (bounded) until the node's client ACKed `version` of `typeUrl`. */
  async waitForAck(typeUrl: string, version: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.typeStatus(typeUrl).ackedVersion === version) return;
      await sleep(20);
    }
    throw new Error(`no ACK of ${typeUrl} version ${version} within ${timeoutMs} ms; status: ${JSON.stringify(this.typeStatus(typeUrl))}`);
  }

  /** Waits (bounded) until the node's client NACKed `version` of `typeUrl`; returns the NACK. */
  async waitForNack(typeUrl: string, version: string, timeoutMs = 10_000): Promise<NackStatus> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const nack = this.typeStatus(typeUrl).lastNack;
      if (nack?.version === version) return nack;
      await sleep(20);
    }
    throw new Error(`no NACK of ${typeUrl} version ${version} within ${timeoutMs} ms; status: ${JSON.stringify(this.typeStatus(typeUrl))}`);
  }

  async close(): Promise<void> {
    await this.cleanup.run();
  }
}

// ---- clients ---------------------------------------------------------------------------------

export interface Answer {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
}

/** One HTTP/1.1 request on a fresh connection (node:http), bounded in time. */
export async function request(url: string, opts: { method?: string; headers?: Record<string, string>; localAddress?: string; body?: string; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}), timeout: opts.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer within ${opts.timeoutMs ?? 5000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Retries `attempt` until `isDone` or `timeoutMs`; errors count as not done. Returns the last outcome. */
export async function eventually<T>(attempt: () => Promise<T>, isDone: (r: T) => boolean, timeoutMs = 10_000, intervalMs = 50): Promise<T | Error> {
  const deadline = Date.now() + timeoutMs;
  let last: T | Error = new Error('never tried');
  for (;;) {
    try {
      last = await attempt();
      if (isDone(last)) return last;
    } catch (err) {
      last = err as Error;
    }
    if (Date.now() + intervalMs > deadline) return last;
    await sleep(intervalMs);
  }
}

/** Endpoint specs (policy layer) for tests: a pod with labels in a namespace at `ip`. */
export function pod(name: string, namespace: string, labels: Record<string, string>, ip: string, namedPorts: EndpointSpec['namedPorts'] = []): EndpointSpec {
  return { name, namespace, labels, ips: [ip], namedPorts };
}
