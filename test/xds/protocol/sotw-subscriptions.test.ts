import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Snapshot, TYPE_URL } from '../../../xds/index.js';
import { fakeService, mergeServices } from '../fixtures.js';
import { NODE, withHarness } from './harness.js';
import { sotwNames, type SotwStream } from './scripted-client.js';

const { listener: LDS, cluster: CDS, route: RDS, endpoint: EDS } = TYPE_URL;

async function ack(s: SotwStream, typeUrl: string, names: string[] = []) {
  const r = await s.next();
  assert.equal(r.typeUrl, typeUrl);
  s.send({ typeUrl, resourceNames: names, versionInfo: r.versionInfo, responseNonce: r.nonce });
  return r;
}

describe('SotW subscriptions', () => {
  test('a listener removed from a wildcard LDS subscription disappears from the next full-state response', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: LDS });
      assert.deepEqual(sotwNames(await ack(s, LDS)), ['a-listener', 'b-listener']);
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      assert.deepEqual(sotwNames(await s.next()), ['a-listener']);
    });
  });

  test('a changed cluster re-sends the full CDS state, and an unchanged snapshot sends nothing', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: CDS, resourceNames: ['*'] });
      await ack(s, CDS, ['*']);
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      await s.expectSilence();
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('c', 3))));
      assert.deepEqual(sotwNames(await s.next()), ['a-cluster', 'c-cluster']);
    });
  });

  test('a named LDS subscription gets only its listener and loses it from the full state when it is removed', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: LDS, resourceNames: ['b-listener'] });
      assert.deepEqual(sotwNames(await ack(s, LDS, ['b-listener'])), ['b-listener']);
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      const r = await s.next();
      assert.deepEqual(sotwNames(r), [], 'an empty full-state response deletes the listener on the client');
    });
  });

  test('RDS sends only the changed route configuration and nothing for a removed one (absence is not deletion)', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const s = h.client().sotw();
      const names = ['a-route', 'b-route'];
      s.send({ node: NODE, typeUrl: RDS, resourceNames: names });
      assert.deepEqual(sotwNames(await ack(s, RDS, names)), names);
      const changedB = fakeService('b', 2, ['10.0.0.9', 9]);
      changedB.routes[0]!.virtualHosts[0]!.domains = ['b.example'];
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), changedB)));
      assert.deepEqual(sotwNames(await ack(s, RDS, names)), ['b-route']);
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      await s.expectSilence();
    });
  });

  test('adding a name at the same version is answered with the new resource; dropping all names stops updates', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: EDS, resourceNames: ['a-cluster'] });
      const first = await s.next();
      s.send({ typeUrl: EDS, resourceNames: ['a-cluster', 'b-cluster'], versionInfo: first.versionInfo, responseNonce: first.nonce });
      const second = await s.next();
      assert.equal(second.versionInfo, first.versionInfo);
      assert.deepEqual(sotwNames(second), ['b-cluster']);
      // Unsubscribe from everything: an empty list after names is not wildcard (xDS "unsubscribe").
      s.send({ typeUrl: EDS, resourceNames: [], versionInfo: second.versionInfo, responseNonce: second.nonce });
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1, ['10.1.1.1', 1]), fakeService('b', 2, ['10.1.1.2', 2]))));
      await s.expectSilence();
    });
  });

  test('a reconnect presenting the current version of a wildcard LDS is not re-sent; a stale one is', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      const c = h.client();
      const s1 = c.sotw();
      s1.send({ node: NODE, typeUrl: LDS });
      const r = await ack(s1, LDS);
      s1.close();
      const s2 = c.sotw();
      s2.send({ node: NODE, typeUrl: LDS, versionInfo: r.versionInfo });
      await s2.expectSilence();
      const s3 = c.sotw();
      s3.send({ node: NODE, typeUrl: LDS, versionInfo: 'from-an-older-server' });
      assert.deepEqual(sotwNames(await s3.next()), ['a-listener']);
    });
  });

  test('several types interleave on one ADS stream, each with its own version and nonce', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: LDS });
      s.send({ typeUrl: RDS, resourceNames: ['a-route'] });
      s.send({ typeUrl: CDS });
      s.send({ typeUrl: EDS, resourceNames: ['a-cluster'] });
      const got = new Map<string, string[]>();
      const nonces = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const r = await s.next();
        got.set(r.typeUrl, sotwNames(r));
        nonces.add(r.nonce);
        s.send({ typeUrl: r.typeUrl, resourceNames: r.typeUrl === RDS ? ['a-route'] : r.typeUrl === EDS ? ['a-cluster'] : [], versionInfo: r.versionInfo, responseNonce: r.nonce });
      }
      assert.deepEqual(Object.fromEntries(got), { [LDS]: ['a-listener'], [RDS]: ['a-route'], [CDS]: ['a-cluster'], [EDS]: ['a-cluster'] });
      assert.equal(nonces.size, 4);
      await s.expectSilence();
      assert.equal(h.server.metrics.acks, 4);
    });
  });
});
