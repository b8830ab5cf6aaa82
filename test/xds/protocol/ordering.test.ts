import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Snapshot, TYPE_URL } from '../../../xds/index.js';
import { fakeService, mergeServices } from '../fixtures.js';
import { NODE, withHarness } from './harness.js';
import { sotwNames, type DeltaStream, type SotwStream } from './scripted-client.js';

const { listener: LDS, cluster: CDS, route: RDS, endpoint: EDS } = TYPE_URL;

/** How long a type must stay held back while the previous one is unanswered, in the checks below. */
const HELD_MS = 60;

/**
 * Subscribes like Envoy (wildcard LDS/CDS, named RDS/EDS) and ACKs everything, recording the order of
 * arrival. With `held`, each response must be the only one until it is answered.
 */
async function drain(s: SotwStream, count: number, names: Record<string, string[]>, held = false): Promise<Array<{ typeUrl: string; names: string[] }>> {
  const seen: Array<{ typeUrl: string; names: string[] }> = [];
  for (let i = 0; i < count; i++) {
    const r = await s.next();
    seen.push({ typeUrl: r.typeUrl, names: sotwNames(r) });
    if (held && i < count - 1) await s.expectSilence(HELD_MS);
    s.send({ typeUrl: r.typeUrl, resourceNames: names[r.typeUrl] ?? [], versionInfo: r.versionInfo, responseNonce: r.nonce });
  }
  return seen;
}

describe('ADS push order', () => {
  test('one push touching every type arrives as clusters, endpoints, listeners, routes, each type after the previous was answered', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      const s = h.client().sotw();
      const names = { [RDS]: ['a-route', 'b-route'], [EDS]: ['a-cluster', 'b-cluster'] };
      // Listeners and routes are asked for first, as gRPC clients do.
      s.send({ node: NODE, typeUrl: LDS });
      s.send({ typeUrl: RDS, resourceNames: names[RDS] });
      s.send({ typeUrl: CDS });
      s.send({ typeUrl: EDS, resourceNames: names[EDS] });
      await drain(s, 4, names);
      await s.expectSilence(100);
      // One push adds service b everywhere.
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const order = (await drain(s, 4, names, true)).map((x) => x.typeUrl);
      assert.deepEqual(order, [CDS, EDS, LDS, RDS]);
    });
  });

  test('a listener is not sent while the push of its clusters is unanswered, and goes out once the clusters are acknowledged', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: CDS });
      s.send({ typeUrl: LDS });
      await drain(s, 2, {});
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const cds = await s.next();
      assert.equal(cds.typeUrl, CDS);
      await s.expectSilence(300);
      s.send({ typeUrl: CDS, versionInfo: cds.versionInfo, responseNonce: cds.nonce });
      const lds = await s.next();
      assert.equal(lds.typeUrl, LDS);
      assert.deepEqual(sotwNames(lds), ['a-listener', 'b-listener']);
    });
  });

  test('a client that never answers a cluster push holds listeners back only for the hold time', async () => {
    await withHarness(
      async (h) => {
        h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
        const s = h.client().sotw();
        s.send({ node: NODE, typeUrl: CDS });
        await s.next();
        const started = Date.now();
        s.send({ typeUrl: LDS });
        const lds = await s.next(2000);
        assert.equal(lds.typeUrl, LDS);
        assert.ok(Date.now() - started >= 150, 'held while the CDS response was unanswered');
      },
      { server: { orderHoldMs: 200 } },
    );
  });

  test('Delta ADS pushes in the same order', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a', 1)));
      const s: DeltaStream = h.client().delta();
      s.send({ node: NODE, typeUrl: LDS, resourceNamesSubscribe: ['*'] });
      s.send({ typeUrl: RDS, resourceNamesSubscribe: ['a-route', 'b-route'] });
      s.send({ typeUrl: CDS, resourceNamesSubscribe: ['*'] });
      s.send({ typeUrl: EDS, resourceNamesSubscribe: ['a-cluster', 'b-cluster'] });
      for (let i = 0; i < 4; i++) {
        const r = await s.next();
        s.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
      }
      await s.expectSilence(100);
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(mergeServices(fakeService('a', 1), fakeService('b', 2))));
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await s.next();
        order.push(r.typeUrl);
        assert.deepEqual(r.resources.map((x) => x.name), [r.typeUrl === EDS || r.typeUrl === CDS ? 'b-cluster' : r.typeUrl === LDS ? 'b-listener' : 'b-route']);
        if (i < 3) await s.expectSilence(HELD_MS); // the next type waits for this answer
        s.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });
      }
      assert.deepEqual(order, [CDS, EDS, LDS, RDS]);
    });
  });
});
