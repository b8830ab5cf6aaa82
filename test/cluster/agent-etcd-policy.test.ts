// Agents sharing one etcd (issue 9): the same labels get the same identity on every agent, a
// policy applied on one agent is enforced for the pods of another (and deleted everywhere), and
// a pod of agent A is allowed or denied to a pod of agent B by its labels, which B learns only
// from the shared ipcache. Real etcd, real agents, real pods and BPF.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PROBE } from '../datapath/datapath-harness.js';
import { waitFor } from './etcd-harness.js';
import type { AgentWorld } from '../agent/agent-harness.js';
import { applyPolicy, clusterInfo, connects, eventuallyConnects, policyNames, reconciled, runPod, withEtcdAgents } from './agent-etcd-harness.js';

const PORT = 8091;

const allowClientToServer = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: server-from-client
  namespace: default
spec:
  endpointSelector: { matchLabels: { app: server } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: client } }]
    toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
`;

describe('agents sharing one etcd', () => {
  test('three agents agree on identities, enforce a policy applied on another agent for their pods, delete it everywhere, and a teardown leaves the cluster at once', async () => {
    await withEtcdAgents({ count: 3, what: 'policy' }, async ({ agents }) => {
      const [a, b, c] = agents as [AgentWorld, AgentWorld, AgentWorld];
      await waitFor('every agent to see three nodes', async () => {
        for (const w of agents) if ((await clusterInfo(w)).nodes.length !== 3) return false;
        return true;
      }, 20_000);
      const infoA = await clusterInfo(a);
      assert.equal(infoA.connected, true);
      assert.ok(infoA.revision > 0, 'the watch revision is reported');

      const server = await runPod(b, 'server', { app: 'server' }, [process.execPath, PROBE, 'tcp-server', String(PORT)]);
      // Three agents racing for the same new label set get one id.
      const [clientOnB, client, clientOnC] = await Promise.all([
        runPod(b, 'client', { app: 'client' }, ['sleep', '600']),
        runPod(a, 'client', { app: 'client' }, ['sleep', '600']),
        runPod(c, 'client', { app: 'client' }, ['sleep', '600']),
      ]);
      const intruder = await runPod(a, 'intruder', { app: 'intruder' }, ['sleep', '600']);
      assert.equal(client.identity, clientOnB.identity, 'app=client has one identity on agents A and B');
      assert.equal(client.identity, clientOnC.identity, 'app=client has one identity on agents A and C');
      assert.notEqual(client.identity, intruder.identity);
      assert.ok(client.identity >= 256 && client.identity <= 65535, `a cluster-wide id, got ${client.identity}`);

      // No policy yet: both reach the server on the other agent.
      await eventuallyConnects(client, server, PORT, true);
      await eventuallyConnects(intruder, server, PORT, true);

      // Applied on A, enforced by B for B's server: B knows A's pods' identities from etcd.
      await applyPolicy(a, 'server-from-client.yaml', allowClientToServer);
      await waitFor('the policy to reach agent B', async () => (await policyNames(b)).includes('server-from-client'), 20_000);
      await reconciled(b);
      await eventuallyConnects(intruder, server, PORT, false);
      assert.equal(await connects(client, server, PORT), true, 'app=client of agent A is allowed by the policy on agent B');

      // Deleted on B: gone on A too, and B allows everyone again.
      const del = await b.meshd(['policy', 'delete', 'CiliumNetworkPolicy/default/server-from-client', '--state-dir', b.place.stateDir]);
      assert.equal(del.code, 0, del.stderr);
      await waitFor('the delete to reach agent A', async () => !(await policyNames(a)).includes('server-from-client'), 20_000);
      await eventuallyConnects(intruder, server, PORT, true);
      await waitFor('the delete to reach agent C', async () => (await policyNames(c)).length === 0, 20_000);

      // `meshd teardown` of C revokes its lease: A sees it leave well before the 15 s TTL.
      const td = await c.meshd(['teardown', '--state-dir', c.place.stateDir, '--pin-root', c.place.pinRoot, '--node-prefix', c.place.nodePrefix], { timeoutMs: 60_000 });
      assert.equal(td.code, 0, td.stderr);
      assert.match(td.stdout, /left the cluster/);
      const t0 = Date.now();
      await waitFor('C to leave A', async () => (await clusterInfo(a)).nodes.length === 2, 5_000);
      assert.ok(Date.now() - t0 < 5_000);
      await waitFor('C\'s pod to leave A\'s mirror', async () => (await clusterInfo(a)).remotePods === 2, 5_000);
    });
  });
});
