// BuiltinProxy end to end in one process: a real XdsServer pushes Envoy resources, the proxy's xDS
// client applies them to the data plane, and real clients (undici, node https) see the effect:
// updates while requests are in flight drop nothing; an SDS secret is served by name and rotated
// without a restart; a removed listener stops accepting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Pool } from 'undici';
import { SnapshotCache, XdsServer, Snapshot, TYPE_URL, messageFromJson, messageSchemaOfUrl, type SnapshotMessages } from '../../xds/index.js';
import { BuiltinProxy } from '../../proxylib/index.js';
import { makeTestPki } from './pki.js';

const NODE_ID = 'dataplane-node';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function fromJson<M>(typeUrl: string, json: unknown): M {
  return messageFromJson(messageSchemaOfUrl(typeUrl)!, json) as M;
}

function hcmChain(routeName: string, tlsSecret?: string, hcmExtra: object = {}): object {
  return {
    filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'in', rds: { route_config_name: routeName, config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }], ...hcmExtra } }],
    ...(tlsSecret
      ? {
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', common_tls_context: { tls_certificate_sds_secret_configs: [{ name: tlsSecret, sds_config: { ads: {} } }] } },
          },
        }
      : {}),
  };
}

/** A listener on 127.0.0.1:port → RDS `routes` → EDS cluster `backend` with `endpointPorts`; `marker` changes the route (an update). */
function messages(opts: { port: number; endpointPorts: number[]; marker: string; tlsSecret?: { cert: string; key: string }; extraListener?: boolean }): SnapshotMessages {
  return {
    version: opts.marker,
    listeners: [
      fromJson(TYPE_URL.listener, { name: 'main', address: { socket_address: { address: '127.0.0.1', port_value: opts.port } }, filter_chains: [hcmChain('routes', opts.tlsSecret ? 'server-cert' : undefined)] }),
      ...(opts.extraListener ? [fromJson<never>(TYPE_URL.listener, { name: 'extra', address: { socket_address: { address: '127.0.0.1', port_value: 0 } }, filter_chains: [hcmChain('routes')] })] : []),
    ],
    routes: [
      fromJson(TYPE_URL.route, {
        name: 'routes',
        virtual_hosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: [
              { match: { prefix: `/never-${opts.marker}` }, direct_response: { status: 418 } },
              { match: { prefix: '/' }, route: { cluster: 'backend' } },
            ],
          },
        ],
      }),
    ],
    clusters: [fromJson(TYPE_URL.cluster, { name: 'backend', type: 'EDS', connect_timeout: '1s', eds_cluster_config: { eds_config: { ads: {} } } })],
    endpoints: [
      fromJson(TYPE_URL.endpoint, {
        cluster_name: 'backend',
        endpoints: [{ lb_endpoints: opts.endpointPorts.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
      }),
    ],
    secrets: opts.tlsSecret ? [fromJson(TYPE_URL.secret, { name: 'server-cert', tls_certificate: { certificate_chain: { inline_string: opts.tlsSecret.cert }, private_key: { inline_string: opts.tlsSecret.key } } })] : [],
  };
}

/** An HTTP listener named `name` on 127.0.0.1:`port` using the `routes` route configuration of messages(). */
function plainListener(name: string, port: number, hcmExtra: object = {}): never {
  return fromJson<never>(TYPE_URL.listener, { name, address: { socket_address: { address: '127.0.0.1', port_value: port } }, filter_chains: [hcmChain('routes', undefined, hcmExtra)] });
}

async function startUpstream(name: string, hits: Map<string, number>): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    hits.set(name, (hits.get(name) ?? 0) + 1);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${name} ${req.method} ${req.url}`);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

interface Env {
  cache: SnapshotCache;
  proxy: BuiltinProxy;
}

async function getStatus(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
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

async function withProxy(initial: SnapshotMessages, body: (env: Env) => Promise<void>): Promise<void> {
  const cache = new SnapshotCache();
  cache.setSnapshot(NODE_ID, Snapshot.fromMessages(initial));
  const xds = new XdsServer({ cache });
  let proxy: BuiltinProxy | undefined;
  try {
    const address = await xds.listen('127.0.0.1:0');
    proxy = await BuiltinProxy.start({ xds: address, nodeId: NODE_ID, drainTimeoutMs: 1000 });
    await proxy.ready(10_000);
    await body({ cache, proxy });
  } finally {
    await proxy?.close();
    await xds.close();
  }
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('BuiltinProxy configured over xDS', () => {
  test('route, cluster and endpoint updates pushed while requests are in flight drop none of them, and new endpoints take traffic', { timeout: 60_000 }, async () => {
    const hits = new Map<string, number>();
    const a = await startUpstream('a', hits);
    const b = await startUpstream('b', hits);
    const port = await freePort();
    try {
      await withProxy(messages({ port, endpointPorts: [a.port], marker: 'v0' }), async ({ cache, proxy }) => {
        assert.equal(proxy.listenerAddress('main')?.port, port);
        const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4, pipelining: 1 });
        const statuses = new Map<number, number>();
        const failures: string[] = [];
        let running = true;
        let sent = 0;
        const worker = async (): Promise<void> => {
          while (running && sent < 20_000) {
            sent++;
            try {
              const res = await pool.request({ method: sent % 3 === 0 ? 'POST' : 'GET', path: `/item/${sent}`, body: sent % 3 === 0 ? 'x'.repeat(100) : null, headersTimeout: 5000, bodyTimeout: 5000 });
              await res.body.text();
              statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
            } catch (err) {
              failures.push(err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err));
            }
          }
        };
        const workers = Array.from({ length: 8 }, () => worker());
        try {
          // Ten pushes: route changes every time, endpoints alternate a / a+b / b, a listener comes and goes.
          const endpointSets = [[a.port], [a.port, b.port], [b.port]];
          for (let i = 1; i <= 10; i++) {
            await new Promise((r) => setTimeout(r, 150));
            cache.setSnapshot(NODE_ID, Snapshot.fromMessages(messages({ port, endpointPorts: endpointSets[i % 3]!, marker: `v${i}`, extraListener: i % 2 === 1 })));
          }
          await new Promise((r) => setTimeout(r, 300));
        } finally {
          running = false;
          await Promise.all(workers);
          await pool.close();
        }
        assert.deepEqual(failures, [], `client errors during updates (of ${sent} requests)`);
        assert.deepEqual([...statuses.keys()], [200], `every request answered 200: ${JSON.stringify([...statuses])}`);
        assert.ok(sent > 200, `enough requests ran during the updates (${sent})`);
        assert.ok((hits.get('a') ?? 0) > 0 && (hits.get('b') ?? 0) > 0, `both upstreams took traffic: ${JSON.stringify([...hits])}`);
        const nacks = proxy.xds.status().types.reduce((n, t) => n + t.nacks, 0);
        assert.equal(nacks, 0, JSON.stringify(proxy.xds.lastNack()));
        // The last snapshot (v10) has no extra listener: it was removed and no longer accepts.
        assert.equal(proxy.listenerAddress('extra'), undefined);
      });
    } finally {
      a.server.closeAllConnections();
      b.server.closeAllConnections();
      a.server.close();
      b.server.close();
    }
  });

  test('TLS termination takes its certificate from an SDS secret by name, and a rotated secret is served on the next handshake without a restart', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshd-xds-sds-'));
    const hits = new Map<string, number>();
    const up = await startUpstream('up', hits);
    try {
      const pki = await makeTestPki(dir, { serverNames: ['localhost'] });
      const rotated = await pki.issue('server-rotated', { dnsNames: ['localhost'], ips: ['127.0.0.1'] });
      const port = await freePort();
      const get = (): Promise<{ status: number; body: string; fingerprint: string }> =>
        new Promise((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port, servername: 'localhost', path: '/tls', ca: pki.ca.cert, agent: false, timeout: 5000 }, (res) => {
            const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
          });
          req.on('error', reject);
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.end();
        });
      const fingerprintOf = (pem: string): string => new X509Certificate(pem).fingerprint256;

      await withProxy(messages({ port, endpointPorts: [up.port], marker: 't1', tlsSecret: pki.server }), async ({ cache, proxy }) => {
        assert.deepEqual(proxy.xds.status().types.find((t) => t.typeUrl === TYPE_URL.secret)?.subscribed, ['server-cert'], 'SDS subscribed by the name the listener uses');
        const first = await get();
        assert.equal(first.status, 200);
        assert.equal(first.body, 'up GET /tls');
        assert.equal(first.fingerprint, fingerprintOf(pki.server.cert));

        cache.setSnapshot(NODE_ID, Snapshot.fromMessages(messages({ port, endpointPorts: [up.port], marker: 't2', tlsSecret: rotated })));
        const deadline = Date.now() + 5000;
        let now = await get();
        while (now.fingerprint !== fingerprintOf(rotated.cert) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          now = await get();
        }
        assert.equal(now.fingerprint, fingerprintOf(rotated.cert), 'the rotated certificate is served');
        assert.equal(now.status, 200);
      });
    } finally {
      up.server.closeAllConnections();
      up.server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('one response with a good and a bad listener: the good one serves traffic, the bad one keeps its previous version, and the server records a NACK naming the bad field path', { timeout: 60_000 }, async () => {
    const hits = new Map<string, number>();
    const up = await startUpstream('up', hits);
    const [mainPort, secondPort, thirdPort] = [await freePort(), await freePort(), await freePort()];
    const base = messages({ port: mainPort, endpointPorts: [up.port], marker: 'p1' });
    try {
      await withProxy({ ...base, listeners: [...(base.listeners ?? []), plainListener('second', secondPort)] }, async ({ cache, proxy }) => {
        const secondBefore = proxy.store.listener('second');
        assert.ok(secondBefore);
        assert.equal((await getStatus(secondPort, '/s')).body, 'up GET /s');

        // v2: a new good listener "third" and "second" with a field the proxy does not implement.
        const v2 = messages({ port: mainPort, endpointPorts: [up.port], marker: 'p2' });
        cache.setSnapshot(NODE_ID, Snapshot.fromMessages({ ...v2, listeners: [...(v2.listeners ?? []), plainListener('second', secondPort, { tracing: {} }), plainListener('third', thirdPort)] }));
        const serverNack = await waitUntil(() => cache.status().find((n) => n.nodeId === NODE_ID)?.types.find((t) => t.typeUrl === TYPE_URL.listener)?.lastNack, 'the server recorded the LDS NACK');
        assert.match(serverNack.message, /^listener "second": filter_chains\[0\]\.filters\[0\]\.typed_config\.tracing: /m, serverNack.message);
        assert.doesNotMatch(serverNack.message, /"third"|"main"/, 'only the refused listener is in the NACK');
        const nack = proxy.xds.lastNack();
        assert.deepEqual(nack?.refused, ['second']);
        // Delta: "main" did not change, so only "third" was sent beside "second", and applied.
        assert.deepEqual(nack?.applied, ['third']);

        // The good listener of the same response serves traffic.
        await waitUntil(() => proxy.listenerAddress('third'), 'third bound');
        const third = await getStatus(thirdPort, '/t');
        assert.deepEqual(third, { status: 200, body: 'up GET /t' });
        // The bad one's previous version stays in force and keeps serving.
        assert.equal(proxy.store.listener('second'), secondBefore, 'the very same compiled listener');
        assert.deepEqual(await getStatus(secondPort, '/s2'), { status: 200, body: 'up GET /s2' });
        assert.equal(proxy.readiness().ready, true);
        const dump = proxy.configDump() as { xds: { last_nack: { refused: string[] } } };
        assert.deepEqual(dump.xds.last_nack.refused, ['second'], '/config_dump names the refused listener');
      });
    } finally {
      up.server.closeAllConnections();
      up.server.close();
    }
  });

  test('a listener the proxy refuses from the start does not hold readiness: the others serve, the refused one is not bound', { timeout: 60_000 }, async () => {
    const hits = new Map<string, number>();
    const up = await startUpstream('up', hits);
    const [mainPort, kafkaLikePort] = [await freePort(), await freePort()];
    const base = messages({ port: mainPort, endpointPorts: [up.port], marker: 'k1' });
    try {
      // withProxy awaits ready(): a refused listener must not keep it waiting.
      await withProxy({ ...base, listeners: [...(base.listeners ?? []), plainListener('refused', kafkaLikePort, { tracing: {} })] }, async ({ proxy }) => {
        assert.deepEqual(await getStatus(mainPort, '/m'), { status: 200, body: 'up GET /m' });
        assert.equal(proxy.listenerAddress('refused'), undefined);
        assert.deepEqual(proxy.store.listenerNames(), ['main']);
        assert.match(proxy.xds.lastNack()?.detail ?? '', /listener "refused": filter_chains\[0\]\.filters\[0\]\.typed_config\.tracing/);
      });
    } finally {
      up.server.closeAllConnections();
      up.server.close();
    }
  });
});
