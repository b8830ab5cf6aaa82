import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityAllocator, reservedIdentityByName, type LabelSet, type Repository } from '../../policy/index.js';
import { starWarsRepository } from '../../test/agent/flows-harness.js';
import { decidingPolicy } from './deciding-policy.js';

function labelsOf(repo: Repository, id: string): LabelSet {
  return repo.getEndpoint(id)!.identityLabels;
}

describe('decidingPolicy', () => {
  const repo = starWarsRepository();
  const deathstarIngress = repo.endpointPolicy('empire/deathstar')!.ingress;

  test('a deny rule names the policy that holds it', () => {
    const d = decidingPolicy(deathstarIngress, { remote: labelsOf(repo, 'alliance/xwing'), protocol: 'TCP', port: 80 });
    assert.deepEqual(d, { policy: 'empire/deathstar-landing', by: 'deny-rule' });
  });

  test('an L7 redirect names the policy whose L7 rules the proxy enforces', () => {
    const d = decidingPolicy(deathstarIngress, { remote: labelsOf(repo, 'empire/tiefighter'), protocol: 'TCP', port: 80 });
    assert.deepEqual(d, { policy: 'empire/deathstar-landing', by: 'l7-pending' });
  });

  test('a flow no rule allows in a default-deny direction is named default-deny', () => {
    const d = decidingPolicy(deathstarIngress, { remote: labelsOf(repo, 'empire/tiefighter'), protocol: 'TCP', port: 22 });
    assert.deepEqual(d, { policy: 'default-deny', by: 'default-deny' });
  });

  test('a direction no policy enforces names no policy', () => {
    const d = decidingPolicy(repo.endpointPolicy('empire/deathstar')!.egress, { remote: reservedIdentityByName('world')!.labels, protocol: 'TCP', port: 443 });
    assert.deepEqual(d, { policy: undefined, by: 'not-enforced' });
  });

  test('an allow rule without L7 names its policy', () => {
    const d = decidingPolicy(repo.endpointPolicy('alliance/xwing')!.egress, { remote: labelsOf(repo, 'empire/deathstar'), protocol: 'TCP', port: 80 });
    assert.deepEqual(d, { policy: 'alliance/alliance-egress', by: 'allow-rule' });
  });

  test('the host may always reach a pod (allow-localhost)', () => {
    const d = decidingPolicy(deathstarIngress, { remote: new IdentityAllocator().lookupById(1)!.labels, protocol: 'TCP', port: 22 });
    assert.equal(d.policy, 'allow-localhost (agent default)');
  });
});
