import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshdError } from '../../../policy/index.js';
import type { BpfPolicyReport } from '../../inspect/index.js';
import { runMeshd, withFakeAgent, withNoAgent } from '../../../test/agent/api-fake-agent.js';

const REPORT: BpfPolicyReport = {
  pod: 'empire/deathstar',
  endpointId: 1,
  identity: 256,
  source: 'computed',
  sourceNote: "the agent's translation of the pod's current policy, which is what it writes to the kernel (the datapath offers no reader of the live map)",
  ingressEnforced: true,
  egressEnforced: false,
  entries: [
    { direction: 'ingress', peerIdentity: 1, peerLabels: ['reserved:host'], protocol: 'TCP', ports: '*', portStart: 0, portEnd: 65535, verdict: 'allow', policies: ['agent: allow-localhost'] },
    { direction: 'ingress', peerIdentity: 257, peerLabels: ['k8s:org=empire', 'k8s:io.kubernetes.pod.namespace=empire'], protocol: 'TCP', ports: '80', portStart: 80, portEnd: 80, verdict: 'redirect', proxyPort: 15002, policies: ['empire/deathstar-l7'] },
    { direction: 'ingress', peerIdentity: 258, peerLabels: ['k8s:org=alliance'], protocol: 'TCP', ports: '*', portStart: 0, portEnd: 65535, verdict: 'deny', policies: ['empire/no-xwing'] },
  ],
  skipped: [{ direction: 'ingress', policy: 'empire/ping', reason: 'ICMP is not enforced by the kernel datapath (no socket hook sees it)' }],
  unmatched: [{ direction: 'egress', policy: 'empire/deathstar-out', peers: ['fqdn:api.example.com'] }],
};

test('meshd bpf policy get NS/NAME asks for that pod and prints the decoded entries', async () => {
  await withFakeAgent([{ method: 'GET', path: '/v1/bpf/policy', handler: async () => REPORT }], async (agent) => {
    const { status, io } = await agent.meshd('bpf', 'policy', 'get', 'empire/deathstar');
    assert.equal(status, 0, io.err);
    assert.equal(agent.queries.get('/v1/bpf/policy')?.[0]?.get('pod'), 'empire/deathstar');
    assert.equal(
      io.out,
      [
        'pod empire/deathstar  endpoint 1  identity 256',
        "source: computed: the agent's translation of the pod's current policy, which is what it writes to the kernel (the datapath offers no reader of the live map)",
        'ingress: default deny',
        'egress:  not enforced (everything allowed unless denied)',
        '',
        'DIRECTION  PEER  PEER LABELS           PROTO  PORTS  VERDICT         POLICY',
        'ingress    1     reserved:host         TCP    *      allow           agent: allow-localhost',
        'ingress    257   org=empire,ns=empire  TCP    80     redirect:15002  empire/deathstar-l7',
        'ingress    258   org=alliance          TCP    *      deny            empire/no-xwing',
        'not enforced by the kernel (ingress, empire/ping): ICMP is not enforced by the kernel datapath (no socket hook sees it)',
        'no peer identity yet (egress, empire/deathstar-out): fqdn:api.example.com',
        '',
      ].join('\n'),
    );
    const json = await agent.meshd('bpf', 'policy', 'get', 'deathstar', '-o', 'json');
    assert.deepEqual(JSON.parse(json.io.out), REPORT);
    // A bare NAME is in namespace default.
    assert.equal(agent.queries.get('/v1/bpf/policy')?.[1]?.get('pod'), 'default/deathstar');
  });
});

test('meshd bpf policy get prints the agent error for an unknown pod and refuses a malformed one', async () => {
  const notFound = async () => {
    throw new MeshdError('MESHD_ERR_INSPECT_POD_NOT_FOUND', 'no pod empire/nope is an endpoint of this agent', '`meshd endpoint list` shows the endpoints');
  };
  await withFakeAgent([{ method: 'GET', path: '/v1/bpf/policy', handler: notFound }], async (agent) => {
    const { status, io } = await agent.meshd('bpf', 'policy', 'get', 'empire/nope');
    assert.equal(status, 1);
    assert.equal(io.err, 'MESHD_ERR_INSPECT_POD_NOT_FOUND  no pod empire/nope is an endpoint of this agent\nhint: `meshd endpoint list` shows the endpoints\n');
    const bad = await agent.meshd('bpf', 'policy', 'get', 'a/b/c');
    assert.equal(bad.status, 2);
    assert.match(bad.io.err, /^MESHD_ERR_USAGE {2}'a\/b\/c' is not a pod/);
  });
});

test('meshd bpf policy get without an agent exits 1 with the not-running error', async () => {
  await withNoAgent(async (stateDir) => {
    const { status, io } = await runMeshd(['bpf', 'policy', 'get', 'empire/deathstar', '--state-dir', stateDir]);
    assert.equal(status, 1);
    assert.match(io.err, /^MESHD_ERR_API_AGENT_NOT_RUNNING .*\nhint: start it with `meshd agent`/);
  });
});
