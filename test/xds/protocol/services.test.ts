import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Snapshot, TYPE_URL, XdsServer, SnapshotCache } from '../../../xds/index.js';
import { FAKE_MESHD_TYPE_URL, fakeMeshdResource, fakeSecret, fakeService, FakeListener, FakeRoute, FakeCluster, FakeEndpoints, snapshotWithExtra } from '../fixtures.js';
import { ENVOY_NODE, NODE, withHarness } from './harness.js';
import { deltaNames, servicePath, sotwNames, ScriptedClient } from './scripted-client.js';

function tlsService() {
  return {
    listeners: [new FakeListener('tls-listener', 443).withRds('tls-route', 'server-cert').build()],
    routes: [new FakeRoute('tls-route').toCluster('tls-cluster').build()],
    clusters: [new FakeCluster('tls-cluster').withUpstreamTls('client-cert').build()],
    endpoints: [new FakeEndpoints('tls-cluster').at('10.0.0.5', 443).build()],
    secrets: [fakeSecret('server-cert'), fakeSecret('client-cert')],
  };
}

const PER_TYPE: Array<[string, string, string, string]> = [
  ['listeners', 'StreamListeners', 'DeltaListeners', TYPE_URL.listener],
  ['routes', 'StreamRoutes', 'DeltaRoutes', TYPE_URL.route],
  ['clusters', 'StreamClusters', 'DeltaClusters', TYPE_URL.cluster],
  ['endpoints', 'StreamEndpoints', 'DeltaEndpoints', TYPE_URL.endpoint],
  ['secrets', 'StreamSecrets', 'DeltaSecrets', TYPE_URL.secret],
];

describe('per-type services, transports and node filtering', () => {
  for (const [service, sotwMethod, deltaMethod, typeUrl] of PER_TYPE) {
    test(`the ${service} service serves its type over SotW and Delta, with requests that omit type_url`, async () => {
      await withHarness(async (h) => {
        h.cache.setSnapshot('node-1', Snapshot.fromMessages(tlsService()));
        const c = h.client();
        const s = c.sotw(servicePath(service, sotwMethod));
        s.send({ node: NODE, resourceNames: ['*'] });
        const r = await s.next();
        assert.equal(r.typeUrl, typeUrl);
        assert.ok(r.resources.length >= 1);
        const d = c.delta(servicePath(service, deltaMethod));
        d.send({ node: NODE, resourceNamesSubscribe: ['*'] });
        const dr = await d.next();
        assert.equal(dr.typeUrl, typeUrl);
        assert.equal(dr.resources.length, r.resources.length);
      });
    });
  }

  test('a request for another type on a per-type service, and an ADS request without type_url, end the stream with INVALID_ARGUMENT', async () => {
    await withHarness(async (h) => {
      const c = h.client();
      const s = c.sotw(servicePath('listeners', 'StreamListeners'));
      s.send({ node: NODE, typeUrl: TYPE_URL.cluster });
      assert.equal((await s.ended()).code, grpc.status.INVALID_ARGUMENT);
      const a = c.sotw();
      a.send({ node: NODE });
      const end = await a.ended();
      assert.equal(end.code, grpc.status.INVALID_ARGUMENT);
      assert.match(end.details, /MESHD_ERR_XDS_BAD_REQUEST/);
    });
  });

  test('Fetch (REST-style) methods answer UNIMPLEMENTED', async () => {
    await withHarness(async (h) => {
      const client = new grpc.Client(h.address, grpc.credentials.createInsecure());
      try {
        const code = await new Promise<number>((resolve) => {
          client.makeUnaryRequest(servicePath('clusters', 'FetchClusters'), (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (err) => resolve(err?.code ?? 0));
        });
        assert.equal(code, grpc.status.UNIMPLEMENTED);
      } finally {
        client.close();
      }
    });
  });

  test('meshd types are served over ADS to meshd clients and never to a node whose user agent is envoy', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('*', snapshotWithExtra(fakeService('a'), [fakeMeshdResource('policy-1')]));
      const c = h.client();
      const meshd = c.sotw();
      meshd.send({ node: NODE, typeUrl: FAKE_MESHD_TYPE_URL });
      assert.deepEqual(sotwNames(await meshd.next()), ['policy-1']);

      const envoy = c.sotw();
      envoy.send({ node: ENVOY_NODE, typeUrl: FAKE_MESHD_TYPE_URL, resourceNames: ['policy-1'] });
      const r = await envoy.next();
      assert.equal(r.resources.length, 0, 'an empty answer, not the meshd resource');
      const envoyDelta = c.delta();
      envoyDelta.send({ node: ENVOY_NODE, typeUrl: FAKE_MESHD_TYPE_URL, resourceNamesSubscribe: ['policy-1'] });
      const dr = await envoyDelta.next();
      assert.deepEqual(deltaNames(dr), []);
      assert.deepEqual(dr.removedResources, ['policy-1']);
      envoy.send({ typeUrl: TYPE_URL.listener });
      assert.deepEqual(sotwNames(await envoy.next()), ['a-listener'], 'Envoy types still flow');
    });
  });

  test('the server serves over a unix socket, and a second server on the same live socket fails with MESHD_ERR_XDS_BIND', async () => {
    await withHarness(
      async (h) => {
        assert.match(h.address, /^unix:\//);
        h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a')));
        const s = h.client().sotw();
        s.send({ node: NODE, typeUrl: TYPE_URL.cluster });
        assert.deepEqual(sotwNames(await s.next()), ['a-cluster']);
        // A second server on the same path while the first is alive must fail with MESHD_ERR_XDS_BIND.
        const other = new XdsServer({ cache: new SnapshotCache() });
        try {
          await assert.rejects(other.listen(h.address), (err: { code?: string }) => err.code === 'MESHD_ERR_XDS_BIND');
        } finally {
          await other.close();
        }
      },
      { unix: true },
    );
  });

  test('listening on a TCP port already in use fails with MESHD_ERR_XDS_BIND, and a bad address with MESHD_ERR_XDS_BAD_ADDRESS', async () => {
    await withHarness(async (h) => {
      assert.match(h.address, /^127\.0\.0\.1:\d+$/);
      const other = new XdsServer({ cache: new SnapshotCache() });
      try {
        await assert.rejects(other.listen(h.address), (err: { code?: string }) => err.code === 'MESHD_ERR_XDS_BIND');
        await assert.rejects(other.listen('not an address'), (err: { code?: string }) => err.code === 'MESHD_ERR_XDS_BAD_ADDRESS');
      } finally {
        await other.close();
      }
    });
  });

  test('close() ends open streams with status OK', async () => {
    await withHarness(async (h) => {
      const c: ScriptedClient = h.client();
      const s = c.sotw();
      s.send({ node: NODE, typeUrl: TYPE_URL.cluster });
      await s.expectSilence(100);
      assert.equal(h.server.metrics.streams, 1);
      await h.server.close();
      assert.equal((await s.ended()).code, grpc.status.OK);
      assert.equal(h.server.metrics.streams, 0);
    });
  });
});
