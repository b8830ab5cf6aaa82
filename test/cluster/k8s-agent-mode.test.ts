// `meshd agent --k8s` end to end on one node, against the recorded API server of
// test/cluster/k8s-api-fixture.ts: the agent (in this process, real datapath, identities, policy
// store) lists the fixture's pods and policies through a kubeconfig file, registers the kubelet's
// pods of node-1 as endpoints with identities, attaches the datapath to a pod whose cgroup exists
// (a kubelet-style cgroup tree this test makes on the real cgroup2 mount), applies the policies,
// and refuses `meshd pod run`. Everything it made goes, also when it fails: agent, pins, state
// directory (withAgent), the fixture server, the kubeconfig and the cgroup tree.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroup2Mount, type EndpointStatus, type PolicySummary } from '../../agent/index.js';
import { runMeshd, withAgent } from '../agent/agent-harness.js';
import { K8sApiFixture, agentRoutes, writeKubeconfig } from './k8s-api-fixture.js';

const FRONTEND = { id: 'shop/frontend-6d8f7c9b4-x2k9p', uid: '3f6c1a2e-0b7d-4c1e-9a51-000000000011' };
const BACKEND = { id: 'shop/backend-7c5d9f8b6-m4q2z', uid: '3f6c1a2e-0b7d-4c1e-9a51-000000000012' };

/** A cgroup of the kubelet's systemd layout for one pod, under a top directory of this test's own. */
function podCgroup(top: string, uid: string): string {
  const dir = join(top, 'kubepods-besteffort.slice', `kubepods-besteffort-pod${uid.replace(/-/g, '_')}.slice`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Removes a cgroup tree bottom-up (cgroup directories go with rmdir, never rm -r). */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const child of readdirDirs(dir)) removeCgroupTree(join(dir, child));
  rmdirSync(dir);
}

function readdirDirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
}

describe('meshd agent --k8s', { timeout: 180_000 }, () => {
  test('the fixture\'s policies and node-1\'s pods reach the agent, a pod with a cgroup gets the datapath attached, and pod run is refused', async () => {
    const api = await K8sApiFixture.start(agentRoutes());
    const scratch = mkdtempSync(join(tmpdir(), 'meshd-k8s-agent-'));
    // "kubepods" in the name: where the agent looks for the kubelet's cgroups.
    const cgroupTop = join(cgroup2Mount(), `meshdt${process.pid}-k8s-kubepods.slice`);
    try {
      const kubeconfig = writeKubeconfig(scratch, api.url);
      const frontendCgroup = podCgroup(cgroupTop, FRONTEND.uid);
      await withAgent(
        { mode: 'inProcess', agentOptions: { k8s: true, k8sNodeName: 'node-1', kubeconfig, runProxy: false, k8sSyncTimeoutMs: 20_000 } },
        async (w) => {
          const agent = w.agent!;
          const k8s = agent.services.k8s;
          assert.ok(k8s, 'the agent runs its Kubernetes watcher');
          assert.ok(api.requests.some((r) => r.path === '/api/v1/pods' && r.query.get('fieldSelector') === 'spec.nodeName=node-1'), 'pods are listed for --k8s-node-name');

          const { policies } = await w.api.get<{ policies: PolicySummary[] }>('/v1/policies');
          assert.deepEqual(
            policies.map((p) => [p.key, p.file]).sort(),
            [
              ['CiliumClusterwideNetworkPolicy//cluster-dns', 'k8s://CiliumClusterwideNetworkPolicy/cluster-dns'],
              ['CiliumNetworkPolicy/shop/backend-from-frontend', 'k8s://CiliumNetworkPolicy/shop/backend-from-frontend'],
              ['NetworkPolicy/shop/backend-ingress', 'k8s://NetworkPolicy/shop/backend-ingress'],
            ],
            'every valid policy is applied (cache-port-typo is refused by the loader)',
          );

          const { endpoints } = await w.api.get<{ endpoints: EndpointStatus[] }>('/v1/endpoints');
          assert.deepEqual(endpoints.map((e) => e.id).sort(), [BACKEND.id, FRONTEND.id], 'the pending pod and the host-network pod are no endpoints');
          const fe = endpoints.find((e) => e.id === FRONTEND.id)!;
          const be = endpoints.find((e) => e.id === BACKEND.id)!;
          assert.ok(fe.identity >= 256 && be.identity >= 256 && fe.identity !== be.identity, `allocated identities (${fe.identity}, ${be.identity})`);
          assert.equal(fe.ipv4, '10.244.1.17');
          assert.equal(fe.ipv6, 'fd44:244:1::11');
          const labels = agent.services.selectorCache.labelsOf(fe.identity);
          assert.ok(labels, 'the identity is in the selector cache');
          const labelText = [...labels].map((l) => `${l.source}:${l.key}=${l.value}`);
          for (const l of ['k8s:app=frontend', 'k8s:io.kubernetes.pod.namespace=shop', 'k8s:io.cilium.k8s.policy.serviceaccount=frontend', 'k8s:io.cilium.k8s.namespace.labels.team=a']) {
            assert.ok(labelText.includes(l), `identity labels include ${l}: ${labelText.join(' ')}`);
          }
          const ipcache = new Map(agent.services.datapath.ipcache.entries());
          assert.equal(ipcache.get('10.244.1.17/32'), fe.identity, 'the pod\'s IPv4 address is in the ipcache');
          assert.equal(ipcache.get('fd44:244:1::11/128'), fe.identity, 'the pod\'s IPv6 address is in the ipcache');
          assert.equal(be.policyEnforcement.ingress, true, 'the backend is selected by an ingress policy');

          // The frontend's cgroup exists: the datapath is attached to it. The backend's does not (yet).
          const attached = agent.services.datapath.attachedEndpoints();
          const feAttached = attached.find((a) => a.id === fe.endpointId);
          assert.ok(feAttached, `the frontend (endpoint ${fe.endpointId}) is attached: ${JSON.stringify(attached.map((a) => a.id))}`);
          assert.equal(feAttached.cgroupId, statSync(frontendCgroup, { bigint: true }).ino, 'attached to the pod\'s cgroup');
          assert.equal(fe.cgroupPath, frontendCgroup);
          assert.ok(!attached.some((a) => a.id === be.endpointId), 'the backend has no cgroup yet: registered, not attached');
          assert.equal(be.cgroupPath, '');

          // Its cgroup appears; the next update of the pod attaches it.
          const backendCgroup = podCgroup(cgroupTop, BACKEND.uid);
          const spec = k8s.watcher.endpoints().find((s) => s.id === BACKEND.id)!;
          await k8s.pods.onPodUpsert(spec);
          assert.ok(k8s.pods.isAttached(BACKEND.id));
          const beAttached = agent.services.datapath.attachedEndpoints().find((a) => a.id === be.endpointId);
          assert.equal(beAttached?.cgroupId, statSync(backendCgroup, { bigint: true }).ino, 'attached once its cgroup exists');
          const { endpoints: after } = await w.api.get<{ endpoints: EndpointStatus[] }>('/v1/endpoints');
          assert.equal(after.find((e) => e.id === BACKEND.id)?.identity, be.identity, 'an update of an unchanged pod keeps its identity');

          // Pods are the kubelet's: pod run is refused through the API and the CLI.
          await assert.rejects(w.api.post('/v1/pods', { name: 'x', labels: { app: 'x' }, command: ['sleep', '1'] }), { code: 'MESHD_ERR_ENDPOINT_K8S_MODE' });
          const cli = await runMeshd(['pod', 'run', '--name', 'x', '--labels', 'app=x', '--state-dir', w.place.stateDir, '--', 'sleep', '1'], { timeoutMs: 30_000 });
          assert.equal(cli.code, 1, cli.stdout);
          assert.match(cli.stderr, /MESHD_ERR_ENDPOINT_K8S_MODE/);
          assert.match(cli.stderr, /Kubernetes mode/);

          // A restarted agent relists: the pods keep their endpoint ids (their cgroups stay attached).
          await w.restart();
          const { endpoints: again } = await w.api.get<{ endpoints: EndpointStatus[] }>('/v1/endpoints');
          assert.deepEqual(
            again.map((e) => [e.id, e.endpointId, e.identity]).sort(),
            [[BACKEND.id, be.endpointId, be.identity], [FRONTEND.id, fe.endpointId, fe.identity]].sort(),
          );
          const reattached = w.agent!.services.datapath.attachedEndpoints();
          assert.equal(reattached.find((a) => a.id === fe.endpointId)?.cgroupId, statSync(frontendCgroup, { bigint: true }).ino);
          assert.equal(reattached.find((a) => a.id === be.endpointId)?.cgroupId, statSync(backendCgroup, { bigint: true }).ino);
        },
      );
    } finally {
      await api.close();
      rmSync(scratch, { recursive: true, force: true });
      removeCgroupTree(cgroupTop);
    }
  });

  test('the meshd agent process takes --k8s, --k8s-node-name and --kubeconfig from a ConfigMap-style --config-dir', async () => {
    const api = await K8sApiFixture.start(agentRoutes());
    const dir = mkdtempSync(join(tmpdir(), 'meshd-k8s-config-'));
    try {
      const kubeconfig = writeKubeconfig(dir, api.url);
      const config = join(dir, 'config');
      mkdirSync(config);
      writeFileSync(join(config, 'k8s'), 'true\n');
      writeFileSync(join(config, 'k8s-node-name'), 'node-1\n');
      writeFileSync(join(config, 'kubeconfig'), `${kubeconfig}\n`);
      writeFileSync(join(config, 'policy-audit-mode'), 'false\n');
      // The command line wins: the harness passes --metrics 127.0.0.1:0.
      writeFileSync(join(config, 'metrics'), '127.0.0.1:1\n');
      await withAgent({ args: ['--config-dir', config] }, async (w) => {
        assert.match(w.process!.readyLine, /2 endpoint\(s\), 3 policy\(ies\), kubernetes node node-1$/);
        const { endpoints } = await w.api.get<{ endpoints: EndpointStatus[] }>('/v1/endpoints');
        assert.deepEqual(endpoints.map((e) => e.id).sort(), [BACKEND.id, FRONTEND.id]);
        const r = await w.meshd(['pod', 'run', '--name', 'x', '--labels', 'app=x', '--state-dir', w.place.stateDir, '--', 'sleep', '1']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /MESHD_ERR_ENDPOINT_K8S_MODE/);
      });
    } finally {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('meshd agent refuses a --config-dir file that names no option, naming the file, before it starts anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshd-k8s-config-'));
    try {
      writeFileSync(join(dir, 'proxy'), 'builtin\n');
      writeFileSync(join(dir, 'log-levle'), 'debug\n');
      const stateDir = join(dir, 'state');
      const r = await runMeshd(['agent', '--state-dir', stateDir, '--config-dir', dir], { timeoutMs: 30_000 });
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /MESHD_ERR_AGENT_INVALID_OPTION/);
      assert.ok(r.stderr.includes(join(dir, 'log-levle')), r.stderr);
      assert.ok(!existsSync(stateDir), 'nothing was started');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
