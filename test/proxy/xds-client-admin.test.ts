// BuiltinProxy's admin server as an operator uses it (curl-like GETs with undici's fetch): /ready
// follows the first complete configuration, /config_dump shows accepted resources with versions and
// the last NACK (never secret material), /stats counts ACKs and NACKs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fetch } from 'undici';
import { SnapshotCache, XdsServer, Snapshot, TYPE_URL, messageFromJson, messageSchemaOfUrl, type SnapshotMessages } from '../../xds/index.js';
import { BuiltinProxy, startAdminServer } from '../../proxylib/index.js';

const NODE_ID = 'admin-test-node';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const KEY = '-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-BYTES\n-----END PRIVATE KEY-----\n';

function fromJson<M>(typeUrl: string, json: unknown): M {
  return messageFromJson(messageSchemaOfUrl(typeUrl)!, json) as M;
}

function snapshot(hcmExtra: object = {}, version = 'v1'): Snapshot {
  const messages: SnapshotMessages = {
    version,
    listeners: [
      fromJson(TYPE_URL.listener, {
        name: 'ingress',
        address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'ingress', rds: { route_config_name: 'r1', config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }], ...hcmExtra } }] }],
      }),
    ],
    routes: [fromJson(TYPE_URL.route, { name: 'r1', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }] })],
    clusters: [fromJson(TYPE_URL.cluster, { name: 'backend', type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } }] }] } })],
    secrets: [fromJson(TYPE_URL.secret, { name: 'unused-cert', tls_certificate: { certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: KEY } } })],
  };
  return Snapshot.fromMessages(messages);
}

async function get(admin: string, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://${admin}${path}`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, text: await res.text() };
}

async function waitUntil(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the built-in proxy admin server', () => {
  test('/ready is 503 until the first complete configuration, then 200; /config_dump and /stats show what was accepted and NACKed, never a private key', async () => {
    const cache = new SnapshotCache();
    const server = new XdsServer({ cache });
    const address = await server.listen('127.0.0.1:0');
    const proxy = await BuiltinProxy.start({ xds: address, nodeId: NODE_ID, admin: '127.0.0.1:0', backoff: { initialMs: 50, maxMs: 200 } });
    try {
      const admin = proxy.adminAddress!;
      assert.match(admin, /^127\.0\.0\.1:\d+$/);
      const notReady = await get(admin, '/ready');
      assert.equal(notReady.status, 503);
      assert.match(notReady.text, /NOT READY: .*waiting for the first complete configuration/);

      cache.setSnapshot(NODE_ID, snapshot());
      await proxy.ready(5000);
      assert.deepEqual(await get(admin, '/ready'), { status: 200, text: 'LIVE\n' });

      const dump = JSON.parse((await get(admin, '/config_dump')).text) as Record<string, any>;
      assert.equal(dump.node.id, NODE_ID);
      assert.equal(dump.listeners[0].name, 'ingress');
      assert.equal(dump.listeners[0].version.length > 0, true);
      assert.equal(dump.listeners[0].resource.filter_chains ?? dump.listeners[0].resource.filterChains ? true : false, true);
      assert.equal(dump.routes[0].name, 'r1');
      assert.equal(dump.clusters[0].name, 'backend');
      assert.equal(dump.xds.last_nack, null);

      // The secret is not referred to by anything, so the proxy never subscribed to it: SDS is by name.
      assert.deepEqual(dump.secrets, []);

      cache.setSnapshot(NODE_ID, snapshot({ tracing: {} }, 'v2'));
      await waitUntil(() => proxy.xds.lastNack() !== undefined, 'the NACK');
      const dump2 = JSON.parse((await get(admin, '/config_dump')).text) as Record<string, any>;
      assert.equal(dump2.xds.last_nack.type_url, TYPE_URL.listener);
      assert.equal(dump2.xds.last_nack.version, 'v2');
      assert.match(dump2.xds.last_nack.detail, /listener "ingress": filter_chains\[0\]\.filters\[0\]\.typed_config\.tracing: /);
      assert.equal(dump2.listeners[0].version, dump.listeners[0].version, 'the previous listener version is still the one in force');
      assert.doesNotMatch(JSON.stringify(dump2), /TOP-SECRET/);

      const stats = (await get(admin, '/stats')).text;
      assert.match(stats, /^xds\.Listener\.nacks: 1$/m);
      assert.match(stats, /^xds\.Listener\.acks: 1$/m);
      assert.match(stats, /^xds\.connected: 1$/m);
      const json = JSON.parse((await get(admin, '/stats?format=json&filter=nacks')).text) as { stats: Array<{ name: string; value: number }> };
      assert.ok(json.stats.every((s) => s.name.includes('nacks')));
      assert.equal(json.stats.find((s) => s.name === 'xds.nacks')?.value, 1);

      assert.equal((await get(admin, '/nope')).status, 404);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  test('an admin address that is taken fails start with MESHD_ERR_PROXY_BIND and leaves nothing running', async () => {
    const first = await BuiltinProxy.start({ xds: '127.0.0.1:1', nodeId: 'x', admin: '127.0.0.1:0' });
    try {
      await assert.rejects(BuiltinProxy.start({ xds: '127.0.0.1:1', nodeId: 'y', admin: first.adminAddress! }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'MESHD_ERR_PROXY_BIND');
        return true;
      });
    } finally {
      await first.close();
    }
  });

  test('a malformed xDS address fails start with MESHD_ERR_PROXY_BAD_ADDRESS', async () => {
    await assert.rejects(BuiltinProxy.start({ xds: 'localhost', nodeId: 'x' }), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_PROXY_BAD_ADDRESS');
  });
});

describe('admin server address', () => {
  test('an [ipv6]:0 admin address binds an ephemeral port and reports it in brackets, and /ready answers there', async () => {
    const admin = await startAdminServer('[::1]:0', { readiness: () => ({ ready: true, reason: '' }), configDump: () => ({}), listeners: () => ({}), stats: () => ({}) });
    try {
      assert.match(admin.address, /^\[::1\]:[1-9]\d*$/);
      const r = await get(admin.address, '/ready');
      assert.equal(r.status, 200);
      assert.equal(r.text, 'LIVE\n');
    } finally {
      await admin.close();
    }
  });

  test('admin addresses that are not host:port are MESHD_ERR_PROXY_BAD_ADDRESS before anything listens', async () => {
    const sources = { readiness: () => ({ ready: true, reason: '' }), configDump: () => ({}), listeners: () => ({}), stats: () => ({}) };
    for (const bad of ['127.0.0.1', '127.0.0.1:70000', '::1:9901', 'unix:/tmp/admin.sock']) {
      await assert.rejects(startAdminServer(bad, sources), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_PROXY_BAD_ADDRESS' && err.message.includes(bad), bad);
    }
  });
});
