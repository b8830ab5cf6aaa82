// End to end from policy to wire: the HTTP policy of docs/examples is resolved for the endpoints of
// docs/examples/endpoints.yaml, translated by translateNode for the built-in proxy (what the agent
// serves), served by meshd's xDS server, and enforced by BuiltinProxy on real requests — every HTTP
// flow of docs/examples/flows.yaml must get the verdict the file says, plus path-normalization
// bypass attempts. The pods' addresses are moved from 10.200.0.0/24 to 127.0.200.0/24 so each client
// can bind its pod's address on loopback (the proxy sees the real peer address, as behind the
// transparent redirect); the original destination resolver plays the datapath's part.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadEndpointsFile } from '../../policy/index.js';
import { TYPE_URL } from '../../xds/index.js';
import { REPO_ROOT } from '../xds/real-client-setup.js';
import { ACCESS_DENIED, ProxyHarness, eventually, findFreePort, request, translatePolicies } from './harness.js';

const EXAMPLES = join(REPO_ROOT, 'docs/examples');
const HTTP_POLICY_FILES = ['deathstar-http.yaml'];

/** 10.200.0.N → 127.0.200.N: loopback, so a test client can bind a pod's address. */
function toLoopback(ip: string): string {
  return ip.replace(/^10\.200\.0\./, '127.0.200.');
}

interface Flow {
  from: string;
  to: string;
  port: string;
  http?: { method: string; path: string };
  expect: 'allowed' | 'denied';
}

describe('docs/examples policies through xDS', () => {
  test('the HTTP flows of docs/examples/flows.yaml get their expected verdicts from the built-in proxy', async () => {
    const endpoints = (await loadEndpointsFile(join(EXAMPLES, 'endpoints.yaml'))).map((e) => ({ ...e, ips: e.ips.map(toLoopback) }));
    const flows = (parseYaml(readFileSync(join(EXAMPLES, 'flows.yaml'), 'utf8')) as Flow[]).filter((f) => f.http !== undefined);
    assert.ok(flows.length >= 4, `flows.yaml has HTTP flows (${flows.length})`);
    // Both verdicts must be exercised, or a proxy that allows (or denies) everything would pass.
    assert.ok(flows.some((f) => f.expect === 'allowed') && flows.some((f) => f.expect === 'denied'), 'flows.yaml has allowed and denied HTTP flows');
    const ipOf = (id: string) => {
      const e = endpoints.find((x) => `${x.namespace}/${x.name}` === id);
      assert.ok(e, `endpoint ${id} is in endpoints.yaml`);
      return e.ips[0]!;
    };

    const h = await ProxyHarness.start();
    try {
      const proxyPort = await findFreePort();
      const node = translatePolicies(
        HTTP_POLICY_FILES.map((name) => ({ name, text: readFileSync(join(EXAMPLES, 'policies', name), 'utf8') })),
        endpoints,
        (key) => (key.l7 === 'http' && key.direction === 'ingress' ? proxyPort : undefined),
      );
      const t = node.translation;
      assert.ok(t.redirects.length > 0, `the policy yields an HTTP redirect (skipped: ${JSON.stringify(t.skipped)})`);
      const version = h.setSnapshot({ listeners: t.listeners, routes: t.routes, clusters: t.clusters, endpoints: t.endpoints, secrets: t.secrets });

      // Every flow's destination is a pod port; the proxy's original-destination resolver gives it
      // back (the datapath's job in production), and the ORIGINAL_DST cluster connects there.
      const destinations = new Map<string, RecordingUpstreamLike>();
      for (const f of flows) {
        const port = Number(f.port.split('/')[0]);
        const key = `${ipOf(f.to)}:${port}`;
        if (!destinations.has(key)) destinations.set(key, await h.upstream(f.to, { host: ipOf(f.to), port }));
      }
      const [onlyDestination] = [...destinations.keys()];
      assert.equal(destinations.size, 1, 'the HTTP flows of the example all go to one pod port');
      const [destHost, destPort] = [onlyDestination!.split(':')[0]!, Number(onlyDestination!.split(':')[1])];
      const identityByIp = new Map(node.ipcache.map((e) => [e.prefix.split('/')[0]!, e.identity]));
      await h.startProxy({
        originalDestination: () => ({ address: destHost, port: destPort }),
        identityOf: (ip: string) => identityByIp.get(ip),
      });
      await h.waitForAck(TYPE_URL.listener, version, 15_000);

      const send = (from: string, method: string, path: string) => request(`http://127.0.0.1:${proxyPort}${path}`, { method, localAddress: ipOf(from), headers: { host: 'deathstar.empire.svc' } });
      const firstAllowed = flows.find((f) => f.expect === 'allowed')!;
      const ready = await eventually(() => send(firstAllowed.from, firstAllowed.http!.method, firstAllowed.http!.path), (r) => r.status === 200, 10_000);
      assert.ok(!(ready instanceof Error) && ready.status === 200, `the listener serves: ${ready instanceof Error ? ready.message : `${ready.status} ${ready.body}`}`);

      const upstream = destinations.get(onlyDestination!)!;
      for (const f of flows) {
        const before = upstream.seen.length;
        const r = await send(f.from, f.http!.method, f.http!.path);
        const what = `${f.from} → ${f.to} ${f.http!.method} ${f.http!.path}`;
        if (f.expect === 'allowed') {
          assert.equal(r.status, 200, `${what}: allowed, got ${r.status} ${r.body}`);
          assert.equal(upstream.seen.at(-1)?.url, f.http!.path, `${what}: the upstream got the request`);
        } else {
          assert.equal(r.status, 403, `${what}: denied, got ${r.status} ${r.body}`);
          assert.equal(r.body, ACCESS_DENIED, `${what}: the denial body`);
          assert.equal(upstream.seen.length, before, `${what}: nothing reached the upstream`);
        }
      }

      // Bypass attempts from an allowed peer: each is decided on the normalized path, as Envoy does.
      const tiefighter = 'empire/tiefighter';
      const bypasses: Array<{ path: string; method: string; status: number; forwarded?: string }> = [
        { method: 'GET', path: '/v1/status/../exhaust-port', status: 403 },
        { method: 'GET', path: '/v1/status/%2e%2e/exhaust-port', status: 403 },
        { method: 'GET', path: '//v1//status', status: 200, forwarded: '/v1/status' },
        { method: 'GET', path: '/v1/status/%2F..%2Fexhaust-port', status: 400 },
        { method: 'GET', path: '/V1/STATUS', status: 403 },
        { method: 'GET', path: '/v1/./status/ok', status: 200, forwarded: '/v1/status/ok' },
      ];
      for (const b of bypasses) {
        const before = upstream.seen.length;
        const r = await send(tiefighter, b.method, b.path);
        assert.equal(r.status, b.status, `${b.method} ${b.path}: expected ${b.status}, got ${r.status} ${r.body}`);
        if (b.status === 200) assert.equal(upstream.seen.at(-1)?.url, b.forwarded, `${b.path}: the normalized path is what is forwarded`);
        else assert.equal(upstream.seen.length, before, `${b.path}: nothing reached the upstream`);
      }
      // The deny rule: the Alliance namespace is refused whatever it asks.
      const xwing = await send('alliance/xwing', 'GET', '/v1/status');
      assert.equal(xwing.status, 403, 'ingressDeny from the alliance namespace beats the allow');
    } finally {
      await h.close();
    }
  });
});

type RecordingUpstreamLike = Awaited<ReturnType<ProxyHarness['upstream']>>;
