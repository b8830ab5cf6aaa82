import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Snapshot, TYPE_URL } from '../../../xds/index.js';
import { FakeEndpoints, fakeService, mergeServices } from '../fixtures.js';
import { NODE, withHarness } from './harness.js';
import { sotwNames } from './scripted-client.js';

const EDS = TYPE_URL.endpoint;

function withEndpoint(ip: string) {
  const s = fakeService('a');
  return mergeServices({ ...s, endpoints: [new FakeEndpoints('a-cluster').at(ip, 8080).build()] });
}

describe('SotW ACK and NACK', () => {
  test('an ACK is recorded as the acked version and nothing is resent', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(withEndpoint('10.0.0.1')));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: EDS, resourceNames: ['a-cluster'] });
      const r = await s.next();
      s.send({ typeUrl: EDS, resourceNames: ['a-cluster'], versionInfo: r.versionInfo, responseNonce: r.nonce });
      await s.expectSilence();
      assert.equal(h.server.metrics.acks, 1);
      const types = h.cache.status().find((n) => n.nodeId === 'node-1')!.types;
      assert.equal(types.find((t) => t.typeUrl === EDS)!.ackedVersion, r.versionInfo);
    });
  });

  test('a NACK carrying the new version is detected by error_detail, keeps the last good version, and the NACKed version is not resent; the next good version is', async () => {
    const nacks: Array<{ version: string; message: string }> = [];
    await withHarness(
      async (h) => {
        h.cache.setSnapshot('node-1', Snapshot.fromMessages(withEndpoint('10.0.0.1')));
        const s = h.client().sotw();
        s.send({ node: NODE, typeUrl: EDS, resourceNames: ['a-cluster'] });
        const good = await s.next();
        s.send({ typeUrl: EDS, resourceNames: ['a-cluster'], versionInfo: good.versionInfo, responseNonce: good.nonce });

        h.cache.setSnapshot('node-1', Snapshot.fromMessages(withEndpoint('10.0.0.2')));
        const bad = await s.next();
        assert.notEqual(bad.versionInfo, good.versionInfo);
        // grpc-js-xds (A46) reports the new version together with error_detail (research/xds.md §0.3).
        s.send({ typeUrl: EDS, resourceNames: ['a-cluster'], versionInfo: bad.versionInfo, responseNonce: bad.nonce, errorDetail: { code: 14, message: 'endpoint rejected' } });
        await s.expectSilence();
        assert.equal(h.server.metrics.nacks, 1);
        assert.deepEqual(nacks, [{ version: bad.versionInfo, message: 'endpoint rejected' }]);
        const t = h.cache.status().find((n) => n.nodeId === 'node-1')!.types.find((x) => x.typeUrl === EDS)!;
        assert.equal(t.ackedVersion, good.versionInfo, 'the last good version stays the acked one');
        assert.equal(t.lastNack?.version, bad.versionInfo);
        assert.equal(t.lastNack?.message, 'endpoint rejected');
        assert.ok(h.logs.some((l) => l.level === 'warn' && l.msg?.includes('NACK')), 'the NACK is logged');

        // The client repeats its error_detail on later requests until a clean response (grpc-js): not a second NACK.
        s.send({ typeUrl: EDS, resourceNames: ['a-cluster'], versionInfo: bad.versionInfo, responseNonce: bad.nonce, errorDetail: { code: 14, message: 'endpoint rejected' } });
        await s.expectSilence();
        assert.equal(h.server.metrics.nacks, 1);

        h.cache.setSnapshot('node-1', Snapshot.fromMessages(withEndpoint('10.0.0.3')));
        const next = await s.next();
        assert.notEqual(next.versionInfo, bad.versionInfo);
        assert.deepEqual(sotwNames(next), ['a-cluster']);
      },
      { callbacks: { onNack: (_s, _t, version, detail) => nacks.push({ version, message: detail.message }) } },
    );
  });

  test('a request with a stale nonce is not taken as an ACK and triggers no response', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(withEndpoint('10.0.0.1')));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: EDS, resourceNames: ['a-cluster'] });
      const first = await s.next();
      s.send({ typeUrl: EDS, resourceNames: ['a-cluster'], versionInfo: first.versionInfo, responseNonce: first.nonce });
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(withEndpoint('10.0.0.2')));
      const second = await s.next();
      // An old request (nonce of the first response) arriving after the second was sent.
      s.send({ typeUrl: EDS, resourceNames: ['a-cluster'], versionInfo: first.versionInfo, responseNonce: first.nonce, errorDetail: { code: 3, message: 'old' } });
      await s.expectSilence();
      assert.equal(h.server.metrics.staleRequests, 1);
      assert.equal(h.server.metrics.nacks, 0);
      assert.equal(h.server.metrics.acks, 1);
      s.send({ typeUrl: EDS, resourceNames: ['a-cluster'], versionInfo: second.versionInfo, responseNonce: second.nonce });
      await s.expectSilence();
      assert.equal(h.server.metrics.acks, 2);
    });
  });

  test('the node is taken from the first request; later requests without a node are served as the same node', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(fakeService('a')));
      h.cache.setSnapshot('node-2', Snapshot.fromMessages(fakeService('b')));
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: TYPE_URL.listener });
      const lds = await s.next();
      assert.deepEqual(sotwNames(lds), ['a-listener']);
      s.send({ typeUrl: TYPE_URL.listener, versionInfo: lds.versionInfo, responseNonce: lds.nonce });
      // No node, and then a different node: both are ignored after the first request.
      s.send({ typeUrl: TYPE_URL.cluster });
      const cds = await s.next();
      assert.deepEqual(sotwNames(cds), ['a-cluster']);
      s.send({ typeUrl: TYPE_URL.cluster, versionInfo: cds.versionInfo, responseNonce: cds.nonce });
      s.send({ node: { id: 'node-2' }, typeUrl: EDS, resourceNames: ['a-cluster', 'b-cluster'] });
      assert.deepEqual(sotwNames(await s.next()), ['a-cluster']);
    });
  });

  test('a node without its own snapshot is served the default snapshot set for "*"', async () => {
    await withHarness(async (h) => {
      const s = h.client().sotw();
      s.send({ node: { id: 'someone' }, typeUrl: TYPE_URL.cluster });
      await s.expectSilence();
      h.cache.setSnapshot('*', Snapshot.fromMessages(fakeService('d')));
      assert.deepEqual(sotwNames(await s.next()), ['d-cluster']);
    });
  });
});
