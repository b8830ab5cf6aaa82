import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Snapshot, TYPE_URL } from '../../../xds/index.js';
import { fakeService, mergeServices } from '../fixtures.js';
import { NODE, withHarness } from './harness.js';
import { deltaNames, type DeltaStream } from './scripted-client.js';

const { cluster: CDS, endpoint: EDS } = TYPE_URL;

async function ack(s: DeltaStream, typeUrl: string) {
  const r = await s.next();
  assert.equal(r.typeUrl, typeUrl);
  s.send({ typeUrl, responseNonce: r.nonce });
  return r;
}

const ab = () => Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2)));

describe('Delta xDS', () => {
  test('a wildcard subscription gets every resource with per-resource versions, then only what changed, and removed_resources for what went away', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', ab());
      const s = h.client().delta();
      s.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*'] });
      const first = await ack(s, CDS);
      assert.deepEqual(deltaNames(first), ['a-cluster', 'b-cluster']);
      assert.ok(first.resources.every((r) => r.version !== '' && r.resource?.typeUrl === CDS));
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('c', 3))));
      const second = await ack(s, CDS);
      assert.deepEqual(deltaNames(second), ['c-cluster']);
      assert.deepEqual(second.removedResources, ['b-cluster']);
    });
  });

  test('subscribing to a missing name answers it as removed at once, and the resource is pushed when it appears', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      const s = h.client().delta();
      s.send({ node: NODE, typeUrl: EDS, resourceNamesSubscribe: ['a-cluster', 'b-cluster'] });
      const r = await ack(s, EDS);
      assert.deepEqual(deltaNames(r), ['a-cluster']);
      assert.deepEqual(r.removedResources, ['b-cluster']);
      h.cache.setSnapshot('node-1', ab());
      const later = await ack(s, EDS);
      assert.deepEqual(deltaNames(later), ['b-cluster']);
    });
  });

  test('an unsubscribed name gets no reply and no further updates; re-subscribing sends it again even if unchanged', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', ab());
      const s = h.client().delta();
      s.send({ node: NODE, typeUrl: EDS, resourceNamesSubscribe: ['a-cluster', 'b-cluster'] });
      await ack(s, EDS);
      s.send({ typeUrl: EDS, resourceNamesUnsubscribe: ['b-cluster'] });
      await s.expectSilence();
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2, ['10.9.9.9', 9]))));
      await s.expectSilence();
      s.send({ typeUrl: EDS, resourceNamesSubscribe: ['a-cluster'] });
      assert.deepEqual(deltaNames(await ack(s, EDS)), ['a-cluster']);
    });
  });

  test('unsubscribing an explicit name still covered by "*" is answered with the resource (xDS spec)', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', ab());
      const s = h.client().delta();
      s.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*', 'a-cluster'] });
      await ack(s, CDS);
      s.send({ typeUrl: CDS, resourceNamesUnsubscribe: ['a-cluster'] });
      const r = await ack(s, CDS);
      assert.deepEqual(deltaNames(r), ['a-cluster']);
    });
  });

  test('a reconnect with initial_resource_versions gets only what changed, and removed_resources for what the client holds but is gone', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', ab());
      const c = h.client();
      const s1 = c.delta();
      s1.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*'] });
      const held = Object.fromEntries((await ack(s1, CDS)).resources.map((r) => [r.name, r.version]));
      s1.close();

      const s2 = c.delta();
      s2.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*'], initialResourceVersions: held });
      await s2.expectSilence();
      s2.close();

      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('c', 3))));
      const s3 = c.delta();
      s3.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*'], initialResourceVersions: held });
      const r = await s3.next();
      assert.deepEqual(deltaNames(r), ['c-cluster'], 'a-cluster is unchanged and not re-sent');
      assert.deepEqual(r.removedResources, ['b-cluster']);
    });
  });

  test('a reconnect without initial_resource_versions gets everything again', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', ab());
      const c = h.client();
      const s1 = c.delta();
      s1.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*'] });
      await ack(s1, CDS);
      s1.close();
      const s2 = c.delta();
      s2.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*'] });
      assert.deepEqual(deltaNames(await s2.next()), ['a-cluster', 'b-cluster']);
    });
  });

  test('subscription changes in a request with a stale nonce are honoured', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', ab());
      const s = h.client().delta();
      s.send({ node: NODE, typeUrl: EDS, resourceNamesSubscribe: ['a-cluster'] });
      const first = await s.next();
      s.send({ typeUrl: EDS, responseNonce: first.nonce });
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1, ['10.2.2.2', 2]), fakeService('b', 2))));
      const second = await s.next();
      // Sent before the client saw `second`: stale nonce, but the new name must still be served.
      s.send({ typeUrl: EDS, responseNonce: first.nonce, resourceNamesSubscribe: ['b-cluster'] });
      await s.expectSilence(150);
      s.send({ typeUrl: EDS, responseNonce: second.nonce });
      assert.deepEqual(deltaNames(await s.next()), ['b-cluster']);
      assert.equal(h.server.metrics.staleRequests, 1);
    });
  });

  test('a Delta NACK is counted, recorded with its message, and the rejected resources are not resent', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', ab());
      const s = h.client().delta();
      s.send({ node: NODE, typeUrl: CDS, resourceNamesSubscribe: ['*'] });
      const r = await s.next();
      s.send({ typeUrl: CDS, responseNonce: r.nonce, errorDetail: { code: 3, message: 'bad cluster' } });
      await s.expectSilence();
      assert.equal(h.server.metrics.nacks, 1);
      const t = h.cache.status().find((n) => n.nodeId === 'node-1')!.types.find((x) => x.typeUrl === CDS)!;
      assert.equal(t.lastNack?.message, 'bad cluster');
    });
  });
});
