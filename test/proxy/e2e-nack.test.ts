// End to end through xDS: configuration the built-in proxy does not implement is NACKed with the
// field path (issue 5: never silently ignored), the server records the NACK, and the previous
// configuration stays in force — the proxy keeps enforcing the old rules, not a half-applied new
// set. A later valid version is accepted again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE_URL } from '../../xds/index.js';
import { ACCESS_DENIED, ProxyHarness, allowPathPrefixes, envoyMessages, eventually, findFreePort, httpListenerJson, request, routeJson, staticClusterJson } from './harness.js';

describe('NACK of unsupported configuration', () => {
  test('a listener with an unsupported HCM field is NACKed with its path and the previous listener stays in force', async () => {
    const h = await ProxyHarness.start();
    try {
      const up = await h.upstream('up');
      const port = await findFreePort();
      const snapshot = (prefixes: string[], hcmExtra?: Record<string, unknown>) =>
        envoyMessages({
          listeners: [httpListenerJson({ name: 'app', port, routeName: 'app-route', rbac: allowPathPrefixes(prefixes), ...(hcmExtra ? { hcmExtra } : {}) })],
          routes: [routeJson('app-route', 'cluster-up')],
          clusters: [staticClusterJson('cluster-up', [up.endpoint])],
        });
      const v1 = h.setSnapshot(snapshot(['/public/']));
      await h.startProxy();
      const ok = await eventually(() => request(`http://127.0.0.1:${port}/public/a`), (r) => r.status === 200, 15_000);
      assert.ok(!(ok instanceof Error) && ok.status === 200, `v1 serves /public/: ${ok instanceof Error ? ok.message : ok.status}`);
      await h.waitForAck(TYPE_URL.listener, v1);
      const deniedBefore = await request(`http://127.0.0.1:${port}/private/a`);
      assert.equal(deniedBefore.status, 403);
      assert.equal(deniedBefore.body, ACCESS_DENIED);

      // v2 would allow /private/ too, but carries xff_num_trusted_hops, which Envoy honours and meshd's proxy does not implement.
      const v2 = h.setSnapshot(snapshot(['/public/', '/private/'], { xff_num_trusted_hops: 1 }));
      const nack = await h.waitForNack(TYPE_URL.listener, v2);
      assert.match(nack.message, /xff_num_trusted_hops/, `the NACK names the field: ${nack.message}`);
      assert.match(nack.message, /filter_chains\[0\]\.filters\[0\]\.typed_config\.xff_num_trusted_hops/, `with its full path: ${nack.message}`);
      assert.equal(h.typeStatus(TYPE_URL.listener).ackedVersion, v1, 'the client still reports v1 as its accepted version');
      for (let i = 0; i < 5; i++) {
        const r = await request(`http://127.0.0.1:${port}/private/a`);
        assert.equal(r.status, 403, 'the rejected version never took effect: /private/ is still denied');
        assert.equal((await request(`http://127.0.0.1:${port}/public/b`)).status, 200, 'and /public/ still works');
      }
      assert.ok(!up.seen.some((s) => s.url.startsWith('/private/')), 'nothing of /private/ reached the upstream');

      // The same change without the unsupported field is accepted.
      const v3 = h.setSnapshot(snapshot(['/public/', '/private/']));
      await h.waitForAck(TYPE_URL.listener, v3);
      const allowed = await eventually(() => request(`http://127.0.0.1:${port}/private/a`), (r) => r.status === 200, 5000);
      assert.ok(!(allowed instanceof Error) && allowed.status === 200, 'v3 allows /private/');
    } finally {
      await h.close();
    }
  });

  test('a cluster with an unsupported field is NACKed with its path and requests keep reaching the previous endpoints', async () => {
    const h = await ProxyHarness.start();
    try {
      const [a, b] = await Promise.all([h.upstream('a'), h.upstream('b')]);
      const port = await findFreePort();
      const snapshot = (cluster: Record<string, unknown>) =>
        envoyMessages({ listeners: [httpListenerJson({ name: 'app', port, routeName: 'app-route' })], routes: [routeJson('app-route', 'cluster-up')], clusters: [cluster] });
      const v1 = h.setSnapshot(snapshot(staticClusterJson('cluster-up', [a.endpoint])));
      await h.startProxy();
      const first = await eventually(() => request(`http://127.0.0.1:${port}/x`), (r) => r.status === 200, 15_000);
      assert.ok(!(first instanceof Error) && JSON.parse(first.body).upstream === 'a', 'v1 routes to a');
      await h.waitForAck(TYPE_URL.cluster, v1);

      // circuit_breakers: Envoy enforces the thresholds; a proxy that ignored them would behave differently.
      const v2 = h.setSnapshot(snapshot({ ...staticClusterJson('cluster-up', [b.endpoint]), circuit_breakers: { thresholds: [{ max_connections: 1 }] } }));
      const nack = await h.waitForNack(TYPE_URL.cluster, v2);
      assert.match(nack.message, /circuit_breakers/, `the NACK names the field: ${nack.message}`);
      for (let i = 0; i < 5; i++) {
        const r = await request(`http://127.0.0.1:${port}/x/${i}`);
        assert.equal(r.status, 200);
        assert.equal(JSON.parse(r.body).upstream, 'a', 'the previous cluster (endpoint a) stays in force');
      }
      assert.equal(b.seen.length, 0, 'the NACKed endpoint b never received a request');
    } finally {
      await h.close();
    }
  });
});
