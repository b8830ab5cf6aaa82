// Agents sharing one etcd across restarts and crashes (issue 9): an agent restart keeps its
// identities and re-publishes its pods under its new lease; a SIGKILLed agent's pods leave the
// other agents' ipcache once its lease TTL has passed; an etcd restart loses nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PROBE } from '../datapath/datapath-harness.js';
import { sleep, waitFor } from './etcd-harness.js';
import { applyPolicy, clusterInfo, connects, eventuallyConnects, policyNames, pods, reconciled, runPod, withEtcdAgents } from './agent-etcd-harness.js';

const PORT = 8092;
const TTL = 3;

// A's client may only talk to app=server: B's server stays reachable while A's ipcache knows it.
const clientEgressToServer = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: client-to-server
  namespace: default
spec:
  endpointSelector: { matchLabels: { app: client } }
  egress:
  - toEndpoints: [{ matchLabels: { app: server } }]
    toPorts: [{ ports: [{ port: "${PORT}", protocol: TCP }] }]
`;

const unrelated = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: unrelated
  namespace: default
spec:
  endpointSelector: { matchLabels: { app: nothing } }
  ingress:
  - fromEndpoints: [{ matchLabels: { app: nobody } }]
`;

describe('agents sharing one etcd: restarts and crashes', () => {
  test('an agent restart keeps identities, re-publishes and drops a policy deleted while it was away; etcd restarting loses nothing; a SIGKILLed agent leaves the others after the lease TTL', async () => {
    await withEtcdAgents({ count: 2, leaseTtlSeconds: TTL, what: 'lifecycle' }, async ({ etcd, agents }) => {
      const [a, b] = agents as [NonNullable<(typeof agents)[0]>, NonNullable<(typeof agents)[1]>];
      const client = await runPod(a, 'client', { app: 'client' }, ['sleep', '600']);
      const server = await runPod(b, 'server', { app: 'server' }, [process.execPath, PROBE, 'tcp-server', String(PORT)]);
      await applyPolicy(a, 'client-to-server.yaml', clientEgressToServer);
      await applyPolicy(a, 'unrelated.yaml', unrelated);
      await waitFor('B to get both policies', async () => (await policyNames(b)).length === 2, 20_000);
      await waitFor('A to learn B\'s pod', async () => (await clusterInfo(a)).remotePods === 1, 20_000);
      await reconciled(a);
      await eventuallyConnects(client, server, PORT, true);

      // Restart B: same identity, a new lease; once the old lease has expired, A still knows the pod.
      // A policy deleted while B is down is gone on B after its restart.
      const leaseBefore = (await clusterInfo(b)).leaseId;
      assert.equal((await b.process!.stop('SIGTERM')).code, 0);
      const del = await a.meshd(['policy', 'delete', 'CiliumNetworkPolicy/default/unrelated', '--state-dir', a.place.stateDir]);
      assert.equal(del.code, 0, del.stderr);
      await b.restart();
      assert.deepEqual(await policyNames(b), ['client-to-server'], 'the policy deleted while B was down is gone on B');
      const [serverAfter] = await pods(b);
      assert.equal(serverAfter?.identity, server.identity, 'the restarted agent keeps the pod\'s identity');
      assert.notEqual((await clusterInfo(b)).leaseId, leaseBefore, 'the restarted agent holds a new lease');
      await sleep((TTL + 2) * 1000);
      assert.equal((await clusterInfo(a)).remotePods, 1, 'B re-published its pod under the new lease');
      assert.equal(await connects(client, server, PORT), true);

      // etcd restarts: every identity, ipcache entry and policy is still there; new label sets allocate again.
      const identitiesBefore = (await clusterInfo(a)).identities;
      await etcd.stop();
      await sleep(500);
      await etcd.restart();
      await waitFor('both agents to be connected again', async () => (await clusterInfo(a)).connected && (await clusterInfo(b)).connected, 30_000);
      const fresh = await runPod(b, 'fresh', { app: 'fresh' }, ['sleep', '600']);
      await waitFor('A to see the new identity', async () => (await clusterInfo(a)).identities === identitiesBefore + 1, 20_000);
      assert.deepEqual(await policyNames(b), ['client-to-server']);
      await waitFor('A to learn B\'s new pod', async () => (await clusterInfo(a)).remotePods === 2, 20_000);
      assert.ok(fresh.identity >= 256 && fresh.identity <= 65535);

      // SIGKILL B: after the TTL its node and pods leave A, and A's client no longer reaches the
      // server (its address is no longer app=server to A, so A's egress policy denies it).
      await b.process!.stop('SIGKILL');
      await waitFor('B to leave A after the lease TTL', async () => {
        const info = await clusterInfo(a);
        return info.nodes.length === 1 && info.remotePods === 0;
      }, (TTL + 10) * 1000);
      await reconciled(a);
      await eventuallyConnects(client, server, PORT, false);
    });
  });
});
