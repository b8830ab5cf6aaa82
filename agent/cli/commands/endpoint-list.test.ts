import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointRow } from '../../inspect/index.js';
import { runMeshd, withFakeAgent, withNoAgent } from '../../../test/agent/api-fake-agent.js';

const ENDPOINTS: EndpointRow[] = [
  { id: 'empire/deathstar', endpointId: 1, identity: 256, ipv4: '10.244.0.2', ipv6: 'fd44:244::2', labels: { org: 'empire', class: 'deathstar' }, state: 'running', policyEnforcement: { ingress: true, egress: false }, auditMode: false },
  { id: 'alliance/xwing', endpointId: 3, identity: 258, ipv4: '10.244.0.4', ipv6: 'fd44:244::4', labels: { org: 'alliance' }, state: 'running', policyEnforcement: { ingress: false, egress: false }, auditMode: true },
];

test('meshd endpoint list prints one aligned line per endpoint, and -o json the same rows', async () => {
  await withFakeAgent([{ method: 'GET', path: '/v1/endpoints', handler: async () => ({ endpoints: ENDPOINTS }) }], async (agent) => {
    const { status, io } = await agent.meshd('endpoint', 'list');
    assert.equal(status, 0, io.err);
    assert.equal(
      io.out,
      [
        'ENDPOINT  POD               IDENTITY  IPV4        IPV6         INGRESS   EGRESS  AUDIT  STATE    LABELS',
        '1         empire/deathstar  256       10.244.0.2  fd44:244::2  enforced  -       -      running  class=deathstar,org=empire',
        '3         alliance/xwing    258       10.244.0.4  fd44:244::4  -         -       yes    running  org=alliance',
        '',
      ].join('\n'),
    );
    const json = await agent.meshd('endpoint', 'list', '-o', 'json');
    assert.deepEqual(JSON.parse(json.io.out), { endpoints: ENDPOINTS });
  });
});

test('meshd endpoint list without an agent exits 1 with the not-running error and its hint', async () => {
  await withNoAgent(async (stateDir) => {
    const { status, io } = await runMeshd(['endpoint', 'list', '--state-dir', stateDir]);
    assert.equal(status, 1);
    assert.match(io.err, /^MESHD_ERR_API_AGENT_NOT_RUNNING {2}.*\nhint: start it with `meshd agent`/);
    assert.doesNotMatch(io.err, /\n\s+at /);
  });
});
