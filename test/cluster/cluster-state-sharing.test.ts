// The shared ipcache, node membership and distributed policies between three nodes on a real etcd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdHarness, waitFor } from './etcd-harness.js';
import { closeAll, openTestNode, uniquePrefix } from './etcd-nodes.js';
import type { TestNode } from './etcd-nodes.js';
import type { IpcacheEvent, PolicyEvent } from '../../agent/index.js';

describe('ipcache, nodes and policies shared through etcd', () => {
  let etcd: EtcdHarness;
  before(async () => {
    etcd = await EtcdHarness.start();
  });
  after(async () => {
    await etcd?.dispose();
  });

  test("every node sees every other node's pod IPs come and go, with identity and node", async () => {
    const prefix = uniquePrefix('ipcache');
    const nodes: TestNode[] = [];
    try {
      for (let i = 0; i < 3; i++) nodes.push(await openTestNode({ url: etcd.url, prefix, index: i }));
      const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
      const seenByC: IpcacheEvent[] = [];
      c.ipcache.onChange((e) => seenByC.push(e));
      await a.ipcache.publish({ ip: '10.244.0.10', identity: 300, pod: 'default/web' });
      await a.ipcache.publish({ ip: 'fd44:244::10', identity: 300, pod: 'default/web' });
      await b.ipcache.publish({ ip: '10.244.1.20', identity: 301 });
      await waitFor('node c mirrors three entries', () => c.ipcache.entries().length === 3);
      assert.deepEqual(c.ipcache.get('10.244.0.10'), { ip: '10.244.0.10', identity: 300, node: 'node-0', pod: 'default/web' });
      assert.deepEqual(c.ipcache.get('10.244.1.20'), { ip: '10.244.1.20', identity: 301, node: 'node-1' });
      assert.deepEqual(a.ipcache.remoteEntries().map((e) => e.ip), ['10.244.1.20']);
      // Identity change of a pod: an upsert with the previous entry.
      await a.ipcache.publish({ ip: '10.244.0.10', identity: 302, pod: 'default/web' });
      await waitFor('the new identity reaches node b', () => b.ipcache.get('10.244.0.10')?.identity === 302);
      await a.ipcache.unpublish('10.244.0.10');
      await waitFor('the removal reaches node b', () => b.ipcache.get('10.244.0.10') === undefined);
      await waitFor('node c saw the removal', () => seenByC.some((e) => e.type === 'delete' && e.entry.ip === '10.244.0.10'));
      const update = seenByC.find((e) => e.type === 'upsert' && e.previous !== undefined);
      assert.equal(update?.type === 'upsert' ? update.previous?.identity : undefined, 300);
      // A node may only withdraw its own entry: the IP now belongs to b, a's unpublish keeps it.
      await b.ipcache.publish({ ip: '10.244.0.10', identity: 303 });
      await a.ipcache.unpublish('10.244.0.10');
      await waitFor('b owns the moved IP', () => c.ipcache.get('10.244.0.10')?.node === 'node-1');
      await b.ipcache.publish({ ip: '10.244.9.9', identity: 399 });
      await waitFor('a later entry arrived, so the earlier unpublish was applied', () => c.ipcache.get('10.244.9.9') !== undefined);
      assert.equal(c.ipcache.get('10.244.0.10')?.identity, 303);
    } finally {
      await closeAll(nodes);
    }
  });

  test('nodes register with their IP and pod CIDRs and the others see them join and leave', async () => {
    const prefix = uniquePrefix('nodes');
    const nodes: TestNode[] = [];
    try {
      nodes.push(await openTestNode({ url: etcd.url, prefix, index: 0 }));
      const a = nodes[0]!;
      const events: string[] = [];
      a.nodes.onChange((e) => events.push(`${e.type} ${e.node.name}`));
      const b = await openTestNode({ url: etcd.url, prefix, index: 1 });
      await waitFor('a sees b', () => a.nodes.get('node-1') !== undefined);
      assert.deepEqual(a.nodes.get('node-1')?.podCidrs, ['10.244.1.0/24']);
      assert.equal(a.nodes.get('node-1')?.nodeIp, '192.168.200.2');
      assert.deepEqual(b.nodes.list().map((n) => n.name).sort(), ['node-0', 'node-1']);
      await b.close({ revoke: true });
      await waitFor('a sees b leave at once (revoked lease)', () => a.nodes.get('node-1') === undefined, 3000);
      assert.deepEqual(events, ['join node-1', 'leave node-1']);
    } finally {
      await closeAll(nodes);
    }
  });

  test('a policy put on one node reaches every node, and so does its deletion', async () => {
    const prefix = uniquePrefix('policies');
    const nodes: TestNode[] = [];
    try {
      for (let i = 0; i < 3; i++) nodes.push(await openTestNode({ url: etcd.url, prefix, index: i }));
      const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
      const events: PolicyEvent[] = [];
      c.policies.onChange((e) => events.push(e));
      const text = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: allow-web\n  namespace: default\nspec:\n  endpointSelector: {}\n';
      await a.policies.put({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'allow-web' }, text);
      await waitFor('b and c have it', () => [b, c].every((n) => n.policies.get({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'allow-web' })?.text === text));
      assert.equal(c.policies.list()[0]?.node, 'node-0');
      // A node that joins later gets it in its initial list.
      const late = await openTestNode({ url: etcd.url, prefix, index: 3 });
      nodes.push(late);
      assert.equal(late.policies.list().length, 1);
      await b.policies.delete({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'allow-web' });
      await waitFor('every node dropped it', () => nodes.every((n) => n.policies.list().length === 0));
      assert.deepEqual(events.map((e) => e.type), ['put', 'delete']);
    } finally {
      await closeAll(nodes);
    }
  });
});
