import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IdentityRow } from '../../inspect/index.js';
import { runMeshd, withFakeAgent, withNoAgent } from '../../../test/agent/api-fake-agent.js';

const IDENTITIES: IdentityRow[] = [
  { id: 1, labels: ['reserved:host'], refcount: null, scope: 'reserved', endpoints: [], prefixes: ['10.244.0.1/32'] },
  { id: 2, labels: ['cidr:0.0.0.0/0', 'cidr:::/0', 'reserved:world'], refcount: null, scope: 'reserved', endpoints: [], prefixes: [] },
  {
    id: 256,
    labels: ['k8s:io.cilium.k8s.policy.cluster=default', 'k8s:io.kubernetes.pod.namespace=empire', 'k8s:org=empire'],
    refcount: 2,
    scope: 'global',
    endpoints: ['empire/deathstar', 'empire/deathstar-2'],
    prefixes: ['10.244.0.2/32'],
  },
  { id: 16777217, labels: ['cidr:192.0.2.7/32', 'fqdn:api.example.com'], refcount: 1, scope: 'local', endpoints: [], prefixes: ['192.0.2.7/32'] },
];

test('meshd identity list prints id, scope, refs, short labels and users, aligned', async () => {
  await withFakeAgent([{ method: 'GET', path: '/v1/identities', handler: async () => ({ identities: IDENTITIES }) }], async (agent) => {
    const { status, io } = await agent.meshd('identity', 'list');
    assert.equal(status, 0, io.err);
    assert.equal(
      io.out,
      [
        'ID        SCOPE     REFS  LABELS                                   USED BY',
        '1         reserved  -     reserved:host                            10.244.0.1/32',
        '2         reserved  -     cidr:0.0.0.0/0,cidr:::/0,reserved:world  -',
        '256       global    2     org=empire,ns=empire                     empire/deathstar,empire/deathstar-2',
        '16777217  local     1     cidr:192.0.2.7/32,fqdn:api.example.com   192.0.2.7/32',
        '',
      ].join('\n'),
    );
    const json = await agent.meshd('identity', 'list', '-o', 'json');
    assert.deepEqual(JSON.parse(json.io.out), { identities: IDENTITIES });
  });
});

test('meshd identity list without an agent exits 1 with the not-running error', async () => {
  await withNoAgent(async (stateDir) => {
    const { status, io } = await runMeshd(['identity', 'list', '--state-dir', stateDir]);
    assert.equal(status, 1);
    assert.match(io.err, /^MESHD_ERR_API_AGENT_NOT_RUNNING /);
  });
});
