// The built-in proxy's Delta ADS client against meshd's real XdsServer + SnapshotCache on loopback:
// initial fetch with references (RDS/EDS/SDS by name), updates, NACK with field paths while the
// previous config stays in force, reconnect after a server restart with initial_resource_versions,
// and dropping resources nothing refers to any more.
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { SnapshotCache, XdsServer, Snapshot, TYPE_URL, messageFromJson, messageSchemaOfUrl, type SnapshotMessages, type XdsServerCallbacks, type ResponseSummary } from '../../xds/index.js';
import { ConfigStore, DeltaXdsClient, defaultCompilers, type ConfigChange, type XdsClientEvent } from '../../proxylib/index.js';
import { translateNode } from '../../xds/index.js';
import { IdentityAllocator, RESERVED_IDENTITIES, Repository, SelectorCache, loadPolicyText } from '../../policy/index.js';

const NODE_ID = 'proxy-test-node';
type Msgs = Required<Pick<SnapshotMessages, 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets'>>;

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function fromJson<M>(typeUrl: string, json: unknown): M {
  const schema = messageSchemaOfUrl(typeUrl);
  if (!schema) throw new Error(`no schema for ${typeUrl}`);
  return messageFromJson(schema, json) as M;
}

/** A listener on 127.0.0.1:0 whose HCM takes routes from RDS; `hcmExtra` adds HCM fields (e.g. an unsupported one). */
function listener(name: string, routeName: string, hcmExtra: object = {}): Msgs['listeners'][number] {
  return fromJson(TYPE_URL.listener, {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: { '@type': HCM, stat_prefix: name, rds: { route_config_name: routeName, config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }], ...hcmExtra },
          },
        ],
      },
    ],
  });
}

function route(name: string, cluster: string): Msgs['routes'][number] {
  return fromJson(TYPE_URL.route, { name, virtual_hosts: [{ name: `${name}-vh`, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] });
}

function edsCluster(name: string): Msgs['clusters'][number] {
  return fromJson(TYPE_URL.cluster, { name, type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {} } } });
}

function endpoints(clusterName: string, port: number): Msgs['endpoints'][number] {
  return fromJson(TYPE_URL.endpoint, { cluster_name: clusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] });
}

/** One service: listener → RDS route → EDS cluster → endpoints. */
function service(prefix: string, port = 8080, hcmExtra: object = {}): Msgs {
  return {
    listeners: [listener(`${prefix}-listener`, `${prefix}-route`, hcmExtra)],
    routes: [route(`${prefix}-route`, `${prefix}-cluster`)],
    clusters: [edsCluster(`${prefix}-cluster`)],
    endpoints: [endpoints(`${prefix}-cluster`, port)],
    secrets: [],
  };
}

function merge(...parts: Msgs[]): Msgs {
  const out: Msgs = { listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
  for (const p of parts) for (const k of Object.keys(out) as Array<keyof Msgs>) (out[k] as unknown[]).push(...p[k]);
  return out;
}

interface Env {
  cache: SnapshotCache;
  server: XdsServer;
  address: string;
  store: ConfigStore;
  client: DeltaXdsClient;
  events: XdsClientEvent[];
  changes: ConfigChange[];
  responses: Array<{ typeUrl: string; resp: ResponseSummary }>;
  /** Waits until `pred` holds for some event (already seen or future), bounded in time. */
  waitFor(pred: (e: XdsClientEvent) => boolean, what: string, timeoutMs?: number): Promise<XdsClientEvent>;
  restartServer(): Promise<void>;
}

async function startServer(cache: SnapshotCache, address: string, callbacks: XdsServerCallbacks): Promise<{ server: XdsServer; address: string }> {
  const server = new XdsServer({ cache, callbacks, orderHoldMs: 200 });
  try {
    return { server, address: await server.listen(address) };
  } catch (err) {
    await server.close();
    throw err;
  }
}

async function withEnv(body: (env: Env) => Promise<void>, initial?: Msgs): Promise<void> {
  const cache = new SnapshotCache();
  if (initial) cache.setSnapshot(NODE_ID, Snapshot.fromMessages(initial));
  const responses: Env['responses'] = [];
  const callbacks: XdsServerCallbacks = { onStreamResponse: (_s, typeUrl, resp) => void responses.push({ typeUrl, resp }) };
  let { server, address } = await startServer(cache, '127.0.0.1:0', callbacks);
  const store = new ConfigStore(defaultCompilers);
  const changes: ConfigChange[] = [];
  store.onChange((c) => changes.push(c));
  const client = new DeltaXdsClient({ server: address, node: { id: NODE_ID, cluster: 'test' }, store, backoff: { initialMs: 50, maxMs: 400 } });
  const events: XdsClientEvent[] = [];
  const waiters = new Set<{ pred: (e: XdsClientEvent) => boolean; resolve: (e: XdsClientEvent) => void }>();
  client.onEvent((e) => {
    events.push(e);
    for (const w of [...waiters]) if (w.pred(e)) (waiters.delete(w), w.resolve(e));
  });
  const env: Env = {
    cache,
    get server() {
      return server;
    },
    address,
    store,
    client,
    events,
    changes,
    responses,
    waitFor(pred, what, timeoutMs = 5000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (e: XdsClientEvent) => (clearTimeout(timer), resolve(e)) };
        const timer = setTimeout(() => (waiters.delete(w), reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${JSON.stringify(events.map((e) => e.kind))}`))), timeoutMs);
        waiters.add(w);
      });
    },
    async restartServer() {
      await server.close();
      ({ server } = await startServer(cache, address, callbacks));
    },
  };
  try {
    client.start();
    await body(env);
  } finally {
    await client.close();
    await server.close();
  }
}

/** Events from index `from` on (so a wait sees only what happened after a step). */
const after = (env: Env) => {
  const from = env.events.length;
  return (pred: (e: XdsClientEvent) => boolean) => (e: XdsClientEvent) => env.events.indexOf(e) >= from && pred(e);
};

describe('the proxy xDS client (Delta ADS) against meshd XdsServer', () => {
  test('the initial fetch subscribes to the RDS and EDS names the listeners and clusters refer to, applies everything and becomes ready', async () => {
    await withEnv(async (env) => {
      await env.client.ready(5000);
      assert.deepEqual(env.store.listenerNames().sort(), ['a-listener', 'b-listener']);
      assert.ok(env.store.routeTable('a-route'), 'RDS a-route applied');
      assert.ok(env.store.routeTable('b-route'), 'RDS b-route applied');
      assert.ok(env.store.cluster('a-cluster'));
      assert.deepEqual(env.store.endpoints('b-cluster')?.endpoints.map((e) => e.port), [8082]);
      const st = env.client.status();
      assert.equal(st.ready, true);
      assert.equal(st.connected, true);
      assert.deepEqual(st.types.find((t) => t.typeUrl === TYPE_URL.route)?.subscribed, ['a-route', 'b-route']);
      assert.deepEqual(st.types.find((t) => t.typeUrl === TYPE_URL.endpoint)?.subscribed, ['a-cluster', 'b-cluster']);
      // The server saw ACKs for every type with the versions it sent (its status book is what `meshd xds status` shows).
      // (The last ACK may still be on the wire when ready() resolves: wait for the server to count it.)
      for (const typeUrl of [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.cluster, TYPE_URL.endpoint]) {
        const t = await waitUntil(() => env.cache.status().find((n) => n.nodeId === NODE_ID)?.types.find((x) => x.typeUrl === typeUrl && x.ackedVersion !== undefined), `the server saw the ${typeUrl} ACK`);
        assert.equal(t.ackedVersion, t.sentVersion);
        assert.equal(t.lastNack, undefined);
      }
    }, merge(service('a', 8081), service('b', 8082)));
  });

  test('the node reaches the server as a built-in proxy (user_agent_name meshd-proxy), with its id and cluster', async () => {
    const seen: Array<{ id: string; cluster: string; userAgentName: string }> = [];
    const cache = new SnapshotCache();
    cache.setSnapshot(NODE_ID, Snapshot.fromMessages(service('a')));
    const { server, address } = await startServer(cache, '127.0.0.1:0', { onStreamOpen: () => {}, onStreamRequest: (s) => void (s.node && seen.push(s.node)) });
    const client = new DeltaXdsClient({ server: address, node: { id: NODE_ID, cluster: 'edge' }, store: new ConfigStore(defaultCompilers) });
    try {
      client.start();
      await client.ready(5000);
      assert.deepEqual(seen[0], { id: NODE_ID, cluster: 'edge', userAgentName: 'meshd-proxy' });
    } finally {
      await client.close();
      await server.close();
    }
  });

  test('the client reaches a server on a unix socket (unix:/path)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshd-proxy-xds-'));
    const cache = new SnapshotCache();
    cache.setSnapshot(NODE_ID, Snapshot.fromMessages(service('u')));
    const server = new XdsServer({ cache });
    const client = new DeltaXdsClient({ server: `unix:${join(dir, 'xds.sock')}`, node: { id: NODE_ID }, store: new ConfigStore(defaultCompilers) });
    try {
      await server.listen(`unix:${join(dir, 'xds.sock')}`);
      client.start();
      await client.ready(5000);
      assert.deepEqual(client.status().types.find((t) => t.typeUrl === TYPE_URL.route)?.subscribed, ['u-route']);
    } finally {
      await client.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an update replaces changed resources, adds new ones, removes deleted ones and reports each change once', async () => {
    await withEnv(async (env) => {
      await env.client.ready(5000);
      const since = after(env);
      env.changes.length = 0;
      env.cache.setSnapshot(NODE_ID, Snapshot.fromMessages(merge(service('a', 9091), service('c', 8083))));
      await env.waitFor(since((e) => e.kind === 'ack' && e.typeUrl === TYPE_URL.route && e.resources.includes('c-route')), 'c-route accepted');
      await env.waitFor(since((e) => e.kind === 'ack' && e.typeUrl === TYPE_URL.endpoint && e.resources.includes('c-cluster')), 'c-cluster endpoints accepted');
      await env.waitFor(since((e) => e.kind === 'ack' && e.typeUrl === TYPE_URL.endpoint && e.resources.includes('a-cluster')), 'a-cluster endpoints updated');
      assert.deepEqual(env.store.listenerNames().sort(), ['a-listener', 'c-listener']);
      assert.equal(env.store.cluster('b-cluster'), undefined);
      assert.deepEqual(env.store.endpoints('a-cluster')?.endpoints.map((e) => e.port), [9091]);
      assert.ok(env.changes.some((c) => c.kind === 'listener' && c.removed.includes('b-listener')));
      // c-listener warmed until its route arrived (Envoy's listener warming), then was added.
      const cRoute = env.changes.findIndex((c) => c.kind === 'route' && c.added.includes('c-route'));
      const cListener = env.changes.findIndex((c) => c.kind === 'listener' && c.added.includes('c-listener'));
      assert.ok(cRoute >= 0 && cListener > cRoute, JSON.stringify(env.changes));
      assert.ok(env.changes.some((c) => c.kind === 'endpoints' && c.updated.includes('a-cluster')));
      // b-route is no longer referred to: unsubscribed and dropped from the store, as Envoy does.
      await waitUntil(() => env.store.routeTable('b-route') === undefined, 'b-route dropped');
      assert.deepEqual(env.client.status().types.find((t) => t.typeUrl === TYPE_URL.route)?.subscribed, ['a-route', 'c-route']);
    }, merge(service('a', 8081), service('b', 8082)));
  });

  test('an unsupported field is NACKed with its field path, the previous config stays in force, and a fixed update is accepted', async () => {
    await withEnv(async (env) => {
      await env.client.ready(5000);
      const before = env.store.listener('a-listener');
      assert.ok(before);
      const since = after(env);
      // HCM tracing is not implemented by the built-in proxy: that listener is refused (b is unchanged).
      env.cache.setSnapshot(NODE_ID, Snapshot.fromMessages(merge(service('a', 8081, { tracing: {} }), service('b', 8082))));
      const ev = await env.waitFor(since((e) => e.kind === 'nack'), 'a NACK');
      assert.equal(ev.kind, 'nack');
      if (ev.kind !== 'nack') return;
      assert.equal(ev.nack.typeUrl, TYPE_URL.listener);
      assert.match(ev.nack.detail, /listener "a-listener": filter_chains\[0\]\.filters\[0\]\.typed_config\.tracing: /);
      assert.ok(ev.nack.problems.some((p) => p.path === 'filter_chains[0].filters[0].typed_config.tracing'));
      // Previous config in force: the very same compiled listener object, and the new listener b stays too.
      assert.equal(env.store.listener('a-listener'), before);
      assert.deepEqual(env.store.listenerNames().sort(), ['a-listener', 'b-listener']);
      // The server recorded the NACK with the detail (what `meshd xds status` shows).
      const nodeStatus = await waitUntil(() => env.cache.status().find((n) => n.nodeId === NODE_ID)?.types.find((t) => t.typeUrl === TYPE_URL.listener)?.lastNack, 'NACK recorded by the server');
      assert.match(nodeStatus.message, /typed_config\.tracing/);
      assert.equal(env.client.lastNack()?.nonce, ev.nack.nonce);
      // A fixed snapshot is accepted.
      env.cache.setSnapshot(NODE_ID, Snapshot.fromMessages(merge(service('a', 8081), service('b', 8082), service('d', 8084))));
      await env.waitFor(since((e) => e.kind === 'ack' && e.typeUrl === TYPE_URL.listener && e.resources.includes('d-listener')), 'd-listener accepted');
      await waitUntil(() => env.store.listener('d-listener'), 'd-listener active once its route arrived');
      assert.deepEqual(env.store.listenerNames().sort(), ['a-listener', 'b-listener', 'd-listener']);
    }, merge(service('a', 8081), service('b', 8082)));
  });

  test('a first response whose only listener is refused still makes the proxy ready (a refused resource must not hold the start forever), with the NACK on record', async () => {
    await withEnv(async (env) => {
      await env.client.ready(5000);
      assert.deepEqual(env.store.listenerNames(), []);
      assert.ok(env.store.cluster('a-cluster'), 'the cluster of the same node is applied');
      assert.match(env.client.lastNack()?.detail ?? '', /listener "a-listener": filter_chains\[0\]\.filters\[0\]\.typed_config\.tracing/);
      assert.deepEqual(env.client.lastNack()?.refused, ['a-listener']);
    }, service('a', 8081, { tracing: {} }));
  });

  test('in one LDS response the valid listeners are applied and the invalid one is refused: NACK naming its field path, its previous version in force', async () => {
    await withEnv(async (env) => {
      await env.client.ready(5000);
      const aBefore = env.store.listener('a-listener');
      const since = after(env);
      env.cache.setSnapshot(NODE_ID, Snapshot.fromMessages(merge(service('a', 8081, { tracing: {} }), service('b', 8082), service('c', 8083))));
      const ev = await env.waitFor(since((e) => e.kind === 'nack' && e.nack.typeUrl === TYPE_URL.listener), 'the LDS NACK');
      if (ev.kind !== 'nack') return;
      assert.deepEqual(ev.nack.refused, ['a-listener']);
      assert.deepEqual(ev.nack.applied, ['c-listener']);
      assert.equal(ev.nack.detail.split('\n').length, ev.nack.problems.length);
      assert.ok(ev.nack.problems.every((p) => p.resource === 'a-listener'));
      await waitUntil(() => env.store.listener('c-listener'), 'c-listener active once its route arrived');
      assert.equal(env.store.listener('a-listener'), aBefore);
      const serverNack = await waitUntil(() => env.cache.status().find((n) => n.nodeId === NODE_ID)?.types.find((t) => t.typeUrl === TYPE_URL.listener)?.lastNack, 'NACK recorded by the server');
      assert.match(serverNack.message, /listener "a-listener": filter_chains\[0\]\.filters\[0\]\.typed_config\.tracing: /);
    }, merge(service('a', 8081), service('b', 8082)));
  });

  test('a node with a Kafka policy beside an HTTP policy gets both listeners: the Kafka listener runs the Kafka filter', async () => {
    const node = httpAndKafkaNode();
    assert.equal(node.listeners.length, 2, 'one listener per redirect');
    await withEnv(async (env) => {
      await env.client.ready(5000);
      assert.equal(env.client.lastNack(), undefined, 'nothing is NACKed');
      assert.deepEqual(env.store.listenerNames().sort(), node.listeners.map((l) => l.name).sort());
      const kinds = node.listeners.map((l) => env.store.listener(l.name)?.filterChains[0]?.networkFilters.at(-1)?.kind).sort();
      assert.deepEqual(kinds, ['http_connection_manager', 'meshd']);
    }, node);
  });

  test('without a snapshot for the node, ready() times out with MESHD_ERR_PROXY_NOT_READY naming what it waits for', async () => {
    await withEnv(async (env) => {
      await assert.rejects(env.client.ready(600), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'MESHD_ERR_PROXY_NOT_READY');
        assert.match(err.message, /waiting for clusters \(\*\); listeners \(\*\)/);
        return true;
      });
    });
  });

  test('after a server restart the client reconnects, claims what it holds, is not sent unchanged resources again, and gets later updates', async () => {
    await withEnv(async (env) => {
      await env.client.ready(5000);
      const listenerBefore = env.store.listener('a-listener');
      const since = after(env);
      const sentBefore = env.responses.length;
      await env.restartServer();
      await env.waitFor(since((e) => e.kind === 'disconnected'), 'a disconnect');
      // Nothing changed: the new stream must not resend what the client claimed in initial_resource_versions.
      env.cache.setSnapshot(NODE_ID, Snapshot.fromMessages(merge(service('a', 8081), service('b', 8082), service('e', 8085))));
      await env.waitFor(since((e) => e.kind === 'ack' && e.typeUrl === TYPE_URL.listener && e.resources.includes('e-listener')), 'e-listener after reconnect', 8000);
      await env.waitFor(since((e) => e.kind === 'ack' && e.typeUrl === TYPE_URL.route && e.resources.includes('e-route')), 'e-route after reconnect');
      const resent = env.responses.slice(sentBefore).flatMap((r) => r.resp.resourceNames).sort();
      assert.deepEqual(resent, ['e-cluster', 'e-cluster', 'e-listener', 'e-route'], 'only the new service is sent on the new stream (cluster, its endpoints, listener, route)');
      assert.equal(env.store.listener('a-listener'), listenerBefore, 'unchanged listener kept as is');
      assert.ok(env.client.status().streams >= 2);
    }, merge(service('a', 8081), service('b', 8082)));
  });

  test('while the server is down the config stays in force, and resources deleted meanwhile are removed on reconnect', async () => {
    await withEnv(async (env) => {
      await env.client.ready(5000);
      await env.server.close();
      await env.waitFor((e) => e.kind === 'disconnected', 'a disconnect');
      assert.deepEqual(env.store.listenerNames().sort(), ['a-listener', 'b-listener'], 'config kept while disconnected');
      env.cache.setSnapshot(NODE_ID, Snapshot.fromMessages(service('a', 8081)));
      await env.restartServer();
      await waitUntil(() => env.store.listener('b-listener') === undefined, 'b-listener removed after reconnect', 8000);
      assert.ok(env.store.listener('a-listener'));
    }, merge(service('a', 8081), service('b', 8082)));
  });
});

/** A node whose pod "web" has an HTTP policy on port 80 and a Kafka policy on port 9092, translated for the built-in proxy. */
function httpAndKafkaNode(): Msgs {
  const yaml = ['kafka', 'http']
    .map(
      (kind) => `---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${kind}, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "${kind === 'kafka' ? 9092 : 80}", protocol: TCP}]
      rules:
        ${kind === 'kafka' ? 'kafka: [{role: produce, topic: deathstar-plans}]' : 'http: [{method: GET, path: "/public.*"}]'}
`,
    )
    .join('');
  const loaded = loadPolicyText('node.yaml', yaml);
  assert.deepEqual(loaded.problems, []);
  const repo = new Repository();
  for (const p of loaded.policies) repo.upsertPolicy(p);
  for (const [name, ip] of [['web', '10.244.0.10'], ['client', '10.244.0.11']] as const) repo.upsertEndpoint({ name, namespace: 'default', labels: { app: name }, ips: [ip], namedPorts: [] });
  const allocator = new IdentityAllocator();
  const selectors = new SelectorCache();
  for (const r of RESERVED_IDENTITIES) selectors.addIdentity(r.id, r.labels);
  const ipcache = repo.listEndpoints().map((e) => {
    const { id } = allocator.allocate(e.identityLabels);
    selectors.addIdentity(id, e.identityLabels);
    return { prefix: `${e.ips[0]}/32`, identity: id };
  });
  const t = translateNode({
    target: 'builtin',
    endpoints: repo.resolveAll(),
    identitiesOf: (s) => selectors.register(s).selections(),
    ipcache,
    proxyAddresses: ['127.0.0.1'],
    proxyPortOf: (key) => (key.l7 === 'kafka' ? 15003 : 15001),
  });
  return { listeners: t.listeners, routes: t.routes, clusters: t.clusters, endpoints: t.endpoints, secrets: t.secrets };
}

async function waitUntil<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
