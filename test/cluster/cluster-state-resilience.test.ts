// What happens when etcd goes away: an etcd restart loses nothing acknowledged and watches resume;
// a node cut off from etcd keeps its mirrors and catches up (also across a compaction); a node
// whose lease expired while cut off re-registers everything under a new lease.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdHarness, freePort, sleep, waitFor } from './etcd-harness.js';
import type { EtcdRelay } from './etcd-harness.js';
import { closeAll, labels, openTestNode, uniquePrefix } from './etcd-nodes.js';
import { ClusterSession } from '../../agent/index.js';
import type { TestNode } from './etcd-nodes.js';

describe('cluster state when etcd goes away', () => {
  let etcd: EtcdHarness;
  before(async () => {
    etcd = await EtcdHarness.start();
  });
  after(async () => {
    await etcd?.dispose();
  });

  test('an etcd restart on the same data dir loses nothing acknowledged and watches resume', async () => {
    const prefix = uniquePrefix('restart');
    const nodes: TestNode[] = [];
    try {
      for (let i = 0; i < 2; i++) nodes.push(await openTestNode({ url: etcd.url, prefix, index: i, leaseTtlSeconds: 30 }));
      const [a, b] = nodes as [TestNode, TestNode];
      const web = labels('k8s:app=web');
      const { id } = await a.identities.allocate(web);
      await a.ipcache.publish({ ip: '10.244.0.7', identity: id });
      await a.policies.put({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'p1' }, 'text-1');
      await etcd.stop();
      // While etcd is down the mirrors keep answering.
      assert.equal(b.ipcache.get('10.244.0.7')?.identity, id);
      assert.equal(b.identities.lookupById(id)?.labels.canonicalKey, web.canonicalKey);
      await sleep(500);
      await etcd.restart();
      const fresh = new Etcd3({ hosts: etcd.url });
      try {
        assert.equal(await fresh.get(`${prefix}/identities/id/${id}`).string(), JSON.stringify(web.toStrings()));
        assert.equal(await fresh.getAll().prefix(`${prefix}/policies/`).count(), 1);
        assert.equal(await fresh.getAll().prefix(`${prefix}/ipcache/`).count(), 1, 'the lease survived the restart');
      } finally {
        fresh.close();
      }
      // The watches of b resume: a change made after the restart reaches it.
      await waitFor('a can write again', async () => {
        try {
          await a.ipcache.publish({ ip: '10.244.0.8', identity: id });
          return true;
        } catch {
          return false;
        }
      }, 20_000);
      await waitFor("b's watch resumed", () => b.ipcache.get('10.244.0.8') !== undefined, 20_000);
      assert.equal((await b.identities.allocate(web)).id, id, 'same id after the restart');
    } finally {
      await closeAll(nodes);
    }
  });

  test('a node cut off from etcd keeps its state and catches up on every change on reconnect, across a compaction', async () => {
    const prefix = uniquePrefix('cut');
    const nodes: TestNode[] = [];
    let relay: EtcdRelay | undefined;
    const raw = new Etcd3({ hosts: etcd.url });
    try {
      relay = await etcd.relay();
      nodes.push(await openTestNode({ url: etcd.url, prefix, index: 0 }));
      nodes.push(await openTestNode({ url: relay.url, prefix, index: 1, leaseTtlSeconds: 30 }));
      const [a, c] = nodes as [TestNode, TestNode];
      await a.ipcache.publish({ ip: '10.244.0.1', identity: 400 });
      await a.ipcache.publish({ ip: '10.244.0.2', identity: 401 });
      await a.policies.put({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'old' }, 'old');
      await waitFor('c mirrors a', () => c.ipcache.entries().length === 2 && c.policies.list().length === 1);
      await relay.cut();
      await a.ipcache.unpublish('10.244.0.1');
      await a.ipcache.publish({ ip: '10.244.0.3', identity: 402 });
      await a.policies.delete({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'old' });
      await a.policies.put({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'new' }, 'new');
      const { id } = await a.identities.allocate(labels('k8s:app=during-outage'));
      // Compacting past c's last revision forces a full resync instead of a resumed watch.
      const { header } = await raw.kv.range({ key: Buffer.from(`${prefix}/`) });
      await raw.kv.compact({ revision: header.revision, physical: true });
      await sleep(300);
      assert.equal(c.ipcache.get('10.244.0.1')?.identity, 400, 'still enforcing the last state while cut off');
      assert.equal(c.policies.list().length, 1);
      await relay.restore();
      await waitFor('c caught up', () =>
        c.ipcache.get('10.244.0.1') === undefined &&
        c.ipcache.get('10.244.0.3')?.identity === 402 &&
        c.policies.list().map((p) => p.name).join() === 'new' &&
        c.identities.lookupById(id) !== undefined,
        20_000,
      );
      await waitFor('the compacted watch was replaced by a full resync', () => c.ipcache.watchResyncs >= 1);
    } finally {
      raw.close();
      await closeAll(nodes);
      await relay?.close();
    }
  });

  test('a node whose lease expired while cut off re-registers its node, ipcache entries and references under a new lease', async () => {
    const prefix = uniquePrefix('relcase');
    const nodes: TestNode[] = [];
    let relay: EtcdRelay | undefined;
    try {
      relay = await etcd.relay();
      nodes.push(await openTestNode({ url: etcd.url, prefix, index: 0 }));
      nodes.push(await openTestNode({ url: relay.url, prefix, index: 1, leaseTtlSeconds: 2 }));
      const [a, c] = nodes as [TestNode, TestNode];
      const cache = labels('k8s:app=cache');
      const { id } = await c.identities.allocate(cache);
      await c.ipcache.publish({ ip: '10.244.1.9', identity: id });
      await waitFor('a sees c', () => a.ipcache.get('10.244.1.9') !== undefined && a.nodes.get('node-1') !== undefined);
      const generation = c.session.leaseGeneration;
      await relay.cut();
      await waitFor("c's records expire", () => a.ipcache.get('10.244.1.9') === undefined && a.nodes.get('node-1') === undefined, 10_000);
      assert.deepEqual(await a.identities.collectGarbage(), [id], 'c held the only reference');
      assert.equal(c.ipcache.get('10.244.1.9')?.identity, id, 'c keeps its state meanwhile');
      await relay.restore();
      await waitFor('c re-registered', () => c.session.leaseGeneration > generation && a.ipcache.get('10.244.1.9') !== undefined && a.nodes.get('node-1') !== undefined, 20_000);
      await c.session.settled();
      assert.equal(a.ipcache.get('10.244.1.9')?.identity, id);
      await waitFor('the identity was re-created with its old id', () => a.identities.lookupById(id)?.labels.canonicalKey === cache.canonicalKey);
      assert.deepEqual(await a.identities.collectGarbage(), [], 'c references it again');
    } finally {
      await closeAll(nodes);
      await relay?.close();
    }
  });

  test('a release while etcd is unreachable holds locally and drops the reference in etcd once it is back', async () => {
    const prefix = uniquePrefix('release-cut');
    const nodes: TestNode[] = [];
    let relay: EtcdRelay | undefined;
    try {
      relay = await etcd.relay();
      nodes.push(await openTestNode({ url: etcd.url, prefix, index: 0 }));
      nodes.push(await openTestNode({ url: relay.url, prefix, index: 1, leaseTtlSeconds: 30 }));
      const [a, c] = nodes as [TestNode, TestNode];
      const queue = labels('k8s:app=queue');
      const { id } = await c.identities.allocate(queue);
      await relay.cut();
      const started = Date.now();
      assert.deepEqual(await c.identities.release(queue), { id, refCount: 0 });
      assert.ok(Date.now() - started < 30_000);
      assert.equal(c.identities.refCount(id), 0);
      assert.deepEqual(await a.identities.collectGarbage(), [], 'the reference is still in etcd');
      await relay.restore();
      await waitFor('the reference is dropped and the GC frees the id', async () => (await a.identities.collectGarbage()).includes(id), 20_000);
    } finally {
      await closeAll(nodes);
      await relay?.close();
    }
  });

  test('a pod IP published while etcd is unreachable reaches the other nodes once etcd is back, before the lease expires', async () => {
    const prefix = uniquePrefix('publish-cut');
    const nodes: TestNode[] = [];
    let relay: EtcdRelay | undefined;
    try {
      relay = await etcd.relay();
      nodes.push(await openTestNode({ url: etcd.url, prefix, index: 0 }));
      nodes.push(await openTestNode({ url: relay.url, prefix, index: 1, leaseTtlSeconds: 60 }));
      const [a, c] = nodes as [TestNode, TestNode];
      await relay.cut();
      // The put fails (etcd is away); the caller logs it and goes on, as the agent does.
      await assert.rejects(c.ipcache.publish({ ip: '10.244.1.77', identity: 4242, pod: 'default/late' }));
      assert.equal(a.ipcache.get('10.244.1.77'), undefined);
      await relay.restore();
      await waitFor('the failed publish is retried and seen by the other node', async () => a.ipcache.get('10.244.1.77')?.identity === 4242, 20_000);
    } finally {
      await closeAll(nodes);
      await relay?.close();
    }
  });

  test('joining a cluster whose etcd does not answer fails with MESHD_ERR_CLUSTER_ETCD_UNREACHABLE', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      ClusterSession.open({ endpoints: [`http://127.0.0.1:${port}`], nodeName: 'lonely', connectTimeoutMs: 1500 }),
      (err: { code?: string; hint?: string }) => err.code === 'MESHD_ERR_CLUSTER_ETCD_UNREACHABLE' && (err.hint ?? '').includes('--etcd'),
    );
    assert.ok(Date.now() - started < 15_000);
  });
});
