// `meshd agent --k8s --etcd` on two nodes of one Kubernetes cluster: two agents (in this process,
// real datapaths, each its own state dir and pins) watch two recorded API servers
// (test/cluster/k8s-api-fixture.ts: node-1's pods, node-2's pods; the fixture server does not
// filter by node) and share one real etcd (test/cluster/etcd-harness.ts). The kubelet's pods get
// the cluster's identities — the same labels the same id on both nodes — and each node's pod
// addresses reach the other's kernel ipcache (read from the pinned map); a deleted pod and a
// changed address leave it again. Everything goes, also when it fails: agents, pins and state
// directories (withAgent), the fixture servers, etcd and the kubeconfigs.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EndpointStatus } from '../../agent/index.js';
import { PinnedDatapathView } from '../../bpf/index.js';
import { withAgent, type AgentWorld } from '../agent/agent-harness.js';
import { EtcdHarness, waitFor } from './etcd-harness.js';
import { uniquePrefix } from './etcd-nodes.js';
import { K8sApiFixture, agentRoutes, writeKubeconfig } from './k8s-api-fixture.js';

const NODE1 = { frontend: 'shop/frontend-6d8f7c9b4-x2k9p', backend: 'shop/backend-7c5d9f8b6-m4q2z' };
const NODE2 = { frontend: 'shop/frontend-6d8f7c9b4-h7r4t', cache: 'shop/cache-58d9c6b7f-v9w2n' };

/** The agent's kernel ipcache, read from its pinned map (what the datapath looks up). */
function kernelIpcache(w: AgentWorld): Map<string, number> {
  const view = PinnedDatapathView.open({ pinRoot: w.place.pinRoot });
  try {
    return new Map(view.ipcache.entries());
  } finally {
    view.close();
  }
}

async function endpointsOf(w: AgentWorld): Promise<Map<string, EndpointStatus>> {
  const { endpoints } = await w.api.get<{ endpoints: EndpointStatus[] }>('/v1/endpoints');
  return new Map(endpoints.map((e) => [e.id, e]));
}

describe('meshd agent --k8s --etcd', { timeout: 240_000 }, () => {
  test('the kubelet\'s pods of two nodes get the cluster\'s identities and each node\'s kernel ipcache holds the other node\'s pod addresses', async () => {
    const etcd = await EtcdHarness.start();
    const api1 = await K8sApiFixture.start(agentRoutes('pods-list.json'));
    const api2 = await K8sApiFixture.start(agentRoutes('pods-list-node-2.json'));
    const scratch = mkdtempSync(join(tmpdir(), 'meshd-k8s-etcd-'));
    const prefix = uniquePrefix('k8s');
    const agentOptions = (node: string, kubeconfig: string): Parameters<typeof withAgent>[0]['agentOptions'] => ({
      k8s: true,
      k8sNodeName: node,
      kubeconfig,
      runProxy: false,
      k8sSyncTimeoutMs: 20_000,
      etcd: [etcd.url],
      etcdPrefix: prefix,
      etcdLeaseTtlSeconds: 15,
    });
    try {
      const kube1 = writeKubeconfig(scratch, api1.url, 'kubeconfig-node-1');
      const kube2 = writeKubeconfig(scratch, api2.url, 'kubeconfig-node-2');
      await withAgent({ mode: 'inProcess', agentOptions: agentOptions('node-1', kube1) }, async (a1) => {
        await withAgent({ mode: 'inProcess', agentOptions: agentOptions('node-2', kube2) }, async (a2) => {
          const on1 = await endpointsOf(a1);
          const on2 = await endpointsOf(a2);
          assert.deepEqual([...on1.keys()].sort(), [NODE1.backend, NODE1.frontend], 'node-1 registers its own pods only');
          assert.deepEqual([...on2.keys()].sort(), [NODE2.cache, NODE2.frontend], 'node-2 registers its own pods only');
          const fe1 = on1.get(NODE1.frontend)!;
          const be1 = on1.get(NODE1.backend)!;
          const fe2 = on2.get(NODE2.frontend)!;
          const cache2 = on2.get(NODE2.cache)!;
          // node-2 registers its cache pod first: a node-local allocator would give its frontend another id.
          assert.equal(fe2.identity, fe1.identity, `the frontend replicas share one identity (node-1 ${fe1.identity}, node-2 ${fe2.identity})`);
          assert.equal(new Set([fe1.identity, be1.identity, cache2.identity]).size, 3, 'different labels, different identities');
          for (const [w, e] of [[a2, be1], [a2, fe1], [a1, cache2]] as const) {
            assert.ok(w.agent!.services.selectorCache.labelsOf(e.identity), `identity ${e.identity} of ${e.id} is in the other node's selector cache`);
          }

          // Each node's pod addresses reach the other node's kernel ipcache through etcd.
          const expect2 = [['10.244.1.17/32', fe1.identity], ['fd44:244:1::11/128', fe1.identity], ['10.244.1.23/32', be1.identity], ['fd44:244:1::17/128', be1.identity]] as const;
          const expect1 = [['10.244.2.31/32', fe2.identity], ['fd44:244:2::1f/128', fe2.identity], ['10.244.2.40/32', cache2.identity], ['fd44:244:2::28/128', cache2.identity]] as const;
          const holds = (w: AgentWorld, entries: ReadonlyArray<readonly [string, number]>): boolean => {
            const k = kernelIpcache(w);
            return entries.every(([prefix, id]) => k.get(prefix) === id);
          };
          await waitFor("node-2's kernel ipcache to hold node-1's pods", () => holds(a2, expect2), 20_000);
          await waitFor("node-1's kernel ipcache to hold node-2's pods", () => holds(a1, expect1), 20_000);

          // node-1's backend moves to another address: node-2 forgets the old one and learns the new one.
          const pods1 = a1.agent!.services.k8s!.pods;
          const spec = a1.agent!.services.k8s!.watcher.endpoints().find((s) => s.id === NODE1.backend)!;
          await pods1.onPodUpsert({ ...spec, ips: ['10.244.1.24', 'fd44:244:1::17'] });
          await waitFor("node-2's kernel ipcache to follow the backend's new address", () => {
            const k = kernelIpcache(a2);
            return k.get('10.244.1.24/32') === be1.identity && !k.has('10.244.1.23/32') && k.get('fd44:244:1::17/128') === be1.identity;
          }, 20_000);

          // node-2's frontend replica is deleted: node-1 forgets its addresses, and keeps the
          // identity (its own frontend still holds it).
          const spec2 = a2.agent!.services.k8s!.watcher.endpoints().find((s) => s.id === NODE2.frontend)!;
          await a2.agent!.services.k8s!.pods.onPodDelete({ id: spec2.id, namespace: spec2.namespace, name: spec2.name, uid: spec2.uid });
          await waitFor("node-1's kernel ipcache to drop the deleted pod's addresses", () => {
            const k = kernelIpcache(a1);
            return !k.has('10.244.2.31/32') && !k.has('fd44:244:2::1f/128');
          }, 20_000);
          assert.equal(kernelIpcache(a1).get('10.244.2.40/32'), cache2.identity, "node-2's other pod stays");
          assert.ok(a2.agent!.services.selectorCache.labelsOf(fe1.identity), "node-2 keeps the frontend's cluster identity: node-1's frontend holds it");
          assert.equal(kernelIpcache(a2).get('10.244.1.17/32'), fe1.identity);
        });
      });
    } finally {
      await api1.close();
      await api2.close();
      await etcd.dispose();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('the meshd agent process joins the cluster from the etcd and etcd-prefix keys of a ConfigMap-style --config-dir', async () => {
    const etcd = await EtcdHarness.start();
    const api1 = await K8sApiFixture.start(agentRoutes('pods-list.json'));
    const api2 = await K8sApiFixture.start(agentRoutes('pods-list-node-2.json'));
    const scratch = mkdtempSync(join(tmpdir(), 'meshd-k8s-etcd-config-'));
    const prefix = uniquePrefix('k8s-config');
    try {
      const config = join(scratch, 'config');
      mkdirSync(config);
      writeFileSync(join(config, 'k8s'), 'true\n');
      writeFileSync(join(config, 'k8s-node-name'), 'node-2\n');
      writeFileSync(join(config, 'kubeconfig'), `${writeKubeconfig(scratch, api2.url, 'kubeconfig-node-2')}\n`);
      writeFileSync(join(config, 'etcd'), `${etcd.url}\n`);
      writeFileSync(join(config, 'etcd-prefix'), `${prefix}\n`);
      const node1 = { k8s: true, k8sNodeName: 'node-1', kubeconfig: writeKubeconfig(scratch, api1.url, 'kubeconfig-node-1'), runProxy: false, k8sSyncTimeoutMs: 20_000, etcd: [etcd.url], etcdPrefix: prefix };
      await withAgent({ mode: 'inProcess', agentOptions: node1 }, async (a1) => {
        await withAgent({ args: ['--config-dir', config] }, async (a2) => {
          const on1 = await endpointsOf(a1);
          const on2 = await endpointsOf(a2);
          assert.deepEqual([...on2.keys()].sort(), [NODE2.cache, NODE2.frontend]);
          assert.equal(on2.get(NODE2.frontend)?.identity, on1.get(NODE1.frontend)?.identity, 'the frontend replicas share the cluster\'s identity');
          const fe2 = on2.get(NODE2.frontend)!.identity;
          await waitFor("node-1's kernel ipcache to hold node-2's frontend", () => kernelIpcache(a1).get('10.244.2.31/32') === fe2, 20_000);
          const fe1 = on1.get(NODE1.frontend)!.identity;
          await waitFor("node-2's kernel ipcache to hold node-1's frontend", () => kernelIpcache(a2).get('10.244.1.17/32') === fe1, 20_000);
        });
      });
    } finally {
      await api1.close();
      await api2.close();
      await etcd.dispose();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
