// Cluster-wide identities against a real etcd: agreement under concurrency, reference counting,
// the GC (also racing with allocations), local-scope identities, and a dead node's lease.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { EtcdHarness, waitFor } from './etcd-harness.js';
import { closeAll, labels, openTestNode, uniquePrefix } from './etcd-nodes.js';
import type { TestNode } from './etcd-nodes.js';

describe('cluster identities through etcd', () => {
  let etcd: EtcdHarness;
  let raw: Etcd3;
  before(async () => {
    etcd = await EtcdHarness.start();
    raw = new Etcd3({ hosts: etcd.url });
  });
  after(async () => {
    raw?.close();
    await etcd?.dispose();
  });

  test('three nodes allocating the same and different label sets concurrently get identical ids', async () => {
    const prefix = uniquePrefix('agree');
    const nodes: TestNode[] = [];
    try {
      for (let i = 0; i < 3; i++) nodes.push(await openTestNode({ url: etcd.url, prefix, index: i }));
      const shared = Array.from({ length: 12 }, (_, i) => labels(`k8s:app=shared-${i}`, 'k8s:io.kubernetes.pod.namespace=default'));
      const own = nodes.map((n) => Array.from({ length: 4 }, (_, i) => labels(`k8s:app=${n.name}-own-${i}`)));
      const results = await Promise.all(
        nodes.map((node, n) => Promise.all([...shared, ...own[n]!].map(async (l) => ({ key: l.canonicalKey, ...(await node.identities.allocate(l)) })))),
      );
      const idsByKey = new Map<string, Set<number>>();
      for (const perNode of results) for (const r of perNode) (idsByKey.get(r.key) ?? idsByKey.set(r.key, new Set()).get(r.key)!).add(r.id);
      for (const l of shared) assert.equal(idsByKey.get(l.canonicalKey)?.size, 1, `every node got the same id for ${l.toStrings().join(',')}`);
      const distinct = new Set([...idsByKey.values()].map((s) => [...s][0]!));
      assert.equal(distinct.size, 12 + 3 * 4, 'different label sets never share an id');
      for (const id of distinct) assert.ok(id >= 256 && id <= 65535, `id ${id} in the cluster range`);
      for (const perNode of results) for (const r of perNode) assert.equal(r.isNew, true, 'first reference on each node');
      // Every node's mirror converges on all 24 identities, and lookups are synchronous.
      await waitFor('every node mirrors all identities', () => nodes.every((n) => n.identities.identities().length === 24));
      for (const node of nodes) for (const [key, ids] of idsByKey) {
        const id = [...ids][0]!;
        assert.equal(node.identities.lookupById(id)?.labels.canonicalKey, key);
      }
      const again = await nodes[1]!.identities.allocate(shared[0]!);
      assert.deepEqual(again, { id: [...idsByKey.get(shared[0]!.canonicalKey)!][0], isNew: false });
    } finally {
      await closeAll(nodes);
    }
  });

  test('an id stays while any node references it and the GC frees it once none does', async () => {
    const prefix = uniquePrefix('gc');
    const nodes: TestNode[] = [];
    try {
      for (let i = 0; i < 2; i++) nodes.push(await openTestNode({ url: etcd.url, prefix, index: i }));
      const [a, b] = nodes as [TestNode, TestNode];
      const removed: number[] = [];
      b.identities.onChange((c) => removed.push(...c.removed.map((i) => i.id)));
      const web = labels('k8s:app=web');
      const { id } = await a.identities.allocate(web);
      await a.identities.allocate(web);
      assert.equal((await b.identities.allocate(web)).id, id);
      assert.equal(a.identities.refCount(id), 2);
      assert.deepEqual(await a.identities.release(web), { id, refCount: 1 });
      assert.deepEqual(await a.identities.release(web), { id, refCount: 0 });
      assert.equal(await a.identities.release(web), undefined, 'nothing left to release');
      assert.deepEqual(await a.identities.collectGarbage(), [], 'node b still references it');
      assert.equal(a.identities.lookupById(id)?.labels.canonicalKey, web.canonicalKey);
      await b.identities.release(web);
      assert.deepEqual(await b.identities.collectGarbage(), [id]);
      await waitFor('node b sees the id removed', () => removed.includes(id));
      await waitFor('node a forgets it too', () => a.identities.lookupByLabels(web) === undefined);
      const keys = await raw.getAll().prefix(`${prefix}/identities/`).keys();
      assert.deepEqual(keys, [], 'no identity key left in etcd');
    } finally {
      await closeAll(nodes);
    }
  });

  test('a GC running concurrently with allocations never frees a referenced id', async () => {
    const prefix = uniquePrefix('gc-race');
    const nodes: TestNode[] = [];
    try {
      for (let i = 0; i < 2; i++) nodes.push(await openTestNode({ url: etcd.url, prefix, index: i }));
      const [a, b] = nodes as [TestNode, TestNode];
      const api = labels('k8s:app=api');
      let stop = false;
      let gcRounds = 0;
      const gcLoop = (async () => {
        for (let i = 0; i < 400 && !stop; i++) {
          await b.identities.collectGarbage();
          gcRounds++;
        }
      })();
      for (let round = 0; round < 30; round++) {
        const { id } = await a.identities.allocate(api);
        const record = await raw.get(`${prefix}/identities/id/${id}`).string();
        assert.ok(record !== null, `round ${round}: id ${id} exists while referenced`);
        assert.deepEqual(JSON.parse(record), api.toStrings());
        await a.identities.release(api);
      }
      stop = true;
      await gcLoop;
      assert.ok(gcRounds > 0);
    } finally {
      await closeAll(nodes);
    }
  });

  test('CIDR and reserved label sets stay node-local', async () => {
    const prefix = uniquePrefix('local');
    const nodes: TestNode[] = [];
    try {
      nodes.push(await openTestNode({ url: etcd.url, prefix }));
      const node = nodes[0]!;
      const cidr = labels('cidr:10.1.0.0/16', 'reserved:world');
      const { id } = await node.identities.allocate(cidr);
      assert.ok(id >= 1 << 24, `local-scope id ${id}`);
      assert.equal(node.identities.lookupById(id)?.labels.canonicalKey, cidr.canonicalKey);
      assert.equal((await node.identities.allocate(labels('reserved:host'))).id, 1);
      assert.deepEqual(await raw.getAll().prefix(`${prefix}/identities/`).keys(), [], 'nothing in etcd');
    } finally {
      await closeAll(nodes);
    }
  });

  test("a dead node's references and ipcache entries expire with its lease", async () => {
    const prefix = uniquePrefix('lease');
    const nodes: TestNode[] = [];
    let dead: TestNode | undefined;
    try {
      nodes.push(await openTestNode({ url: etcd.url, prefix, index: 0 }));
      const a = nodes[0]!;
      dead = await openTestNode({ url: etcd.url, prefix, index: 1, leaseTtlSeconds: 2 });
      const db = labels('k8s:app=db');
      const { id } = await dead.identities.allocate(db);
      await dead.ipcache.publish({ ip: '10.244.1.5', identity: id, pod: 'default/db' });
      await waitFor('node a sees the entry and the node', () => a.ipcache.get('10.244.1.5')?.identity === id && a.nodes.get('node-1') !== undefined);
      const left: string[] = [];
      a.nodes.onChange((e) => e.type === 'leave' && left.push(e.node.name));
      // The agent dies: keepalives stop, nothing is revoked.
      await dead.close({ revoke: false });
      dead = undefined;
      await waitFor('the entry expires with the lease', () => a.ipcache.get('10.244.1.5') === undefined, 10_000);
      await waitFor('node a saw node-1 leave', () => left.length > 0);
      assert.deepEqual(left, ['node-1']);
      assert.deepEqual(await a.identities.collectGarbage(), [id], 'its only reference expired too');
    } finally {
      await closeAll([...nodes, dead]);
    }
  });
});
