import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { toBinary } from '@bufbuild/protobuf';
import { DiscoveryResponseSchema, DeltaDiscoveryResponseSchema, Snapshot, TYPE_URL } from '../../../xds/index.js';
import { FakeCluster, FakeEndpoints, FakeListener, FakeRoute, mergeServices } from '../fixtures.js';
import { NODE, withHarness } from './harness.js';
import { sotwNames } from './scripted-client.js';

const MiB = 1024 * 1024;
const LIMIT = 4 * MiB;

/** Six services whose endpoint sets are ~1 MiB each: ~6 MiB of EDS in total. */
function bigEndpoints() {
  const names = ['s0', 's1', 's2', 's3', 's4', 's5'];
  return mergeServices({
    listeners: [new FakeListener('l', 1).withTcpProxy('s0').build()],
    clusters: names.map((n) => new FakeCluster(n).build()),
    endpoints: names.map((n) => new FakeEndpoints(n).at('10.0.0.1', 80).padded(MiB).build()),
  });
}

describe('response size limit (4 MiB, research/xds.md §1.8)', () => {
  test('a SotW EDS push over 4 MiB is split; the client receives every resource, each message under 4 MiB', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(bigEndpoints()));
      const s = h.client().sotw();
      const names = ['s0', 's1', 's2', 's3', 's4', 's5'];
      s.send({ node: NODE, typeUrl: TYPE_URL.endpoint, resourceNames: names });
      const got: string[] = [];
      let messages = 0;
      while (got.length < names.length) {
        // The scripted client keeps grpc-js's default 4 MiB receive limit: an oversized message would end the stream.
        const r = await s.next(5000);
        assert.ok(toBinary(DiscoveryResponseSchema, r).byteLength < LIMIT);
        got.push(...sotwNames(r));
        messages++;
        s.send({ typeUrl: TYPE_URL.endpoint, resourceNames: names, versionInfo: r.versionInfo, responseNonce: r.nonce });
      }
      assert.deepEqual(got.sort(), names);
      assert.ok(messages >= 2, `split into ${messages} responses`);
      assert.equal(h.server.metrics.splitResponses, 1);
    });
  });

  test('a Delta push over 4 MiB is split across responses', async () => {
    await withHarness(async (h) => {
      h.cache.setSnapshot('node-1', Snapshot.fromMessages(bigEndpoints()));
      const s = h.client().delta();
      s.send({ node: NODE, typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: ['*'] });
      const got: string[] = [];
      while (got.length < 6) {
        const r = await s.next(5000);
        assert.ok(toBinary(DeltaDiscoveryResponseSchema, r).byteLength < LIMIT);
        got.push(...r.resources.map((x) => x.name));
        s.send({ typeUrl: TYPE_URL.endpoint, responseNonce: r.nonce });
      }
      assert.equal(new Set(got).size, 6);
    });
  });

  test('a full-state LDS over 4 MiB cannot be split in SotW: the stream ends with RESOURCE_EXHAUSTED naming the limit, and the server keeps serving', async () => {
    await withHarness(async (h) => {
      const routes = ['r0', 'r1', 'r2', 'r3', 'r4'];
      h.cache.setSnapshot(
        'node-1',
        Snapshot.fromMessages({
          listeners: routes.map((r, i) => new FakeListener(`l${i}`, 1000 + i).withRds(r).padded(MiB).build()),
          routes: routes.map((r) => new FakeRoute(r).toCluster('c').build()),
          clusters: [new FakeCluster('c').static().build()],
        }),
      );
      const s = h.client().sotw();
      s.send({ node: NODE, typeUrl: TYPE_URL.listener });
      const end = await s.ended();
      assert.equal(end.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(end.details, /MESHD_ERR_XDS_RESPONSE_TOO_LARGE.*exceeds the 4194304-byte response limit/);
      assert.equal(h.server.metrics.oversizedResponses, 1);
      assert.ok(h.logs.some((l) => l.level === 'error' && l.msg?.includes('response limit')));
      const other = h.client().sotw();
      other.send({ node: NODE, typeUrl: TYPE_URL.cluster });
      assert.deepEqual(sotwNames(await other.next()), ['c']);
    });
  });
});
