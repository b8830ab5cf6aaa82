import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repository, loadPolicyText, type Policy } from '../policy/index.js';
import { Rng, generatePolicyFixtures, policyFileName, renderPolicyText, updatePlan, type PolicyFixtures } from './policy-fixtures.js';

const SMALL = { policies: 150, endpoints: 200, seed: 1 };

function loadAll(fixtures: PolicyFixtures): Policy[] {
  return fixtures.plans.flatMap((plan) => {
    const file = policyFileName(plan);
    const r = loadPolicyText(file, renderPolicyText(plan));
    assert.deepEqual(
      r.problems.map((p) => `${file}:${p.position.line}:${p.position.col} ${p.code} ${p.message}`),
      [],
      renderPolicyText(plan),
    );
    assert.equal(r.policies.length, 1);
    return r.policies;
  });
}

test('the same seed generates byte-identical policies and endpoints', () => {
  const a = generatePolicyFixtures(SMALL);
  const b = generatePolicyFixtures(SMALL);
  assert.deepEqual(a.plans.map(renderPolicyText), b.plans.map(renderPolicyText));
  assert.deepEqual(a.endpoints, b.endpoints);
  const c = generatePolicyFixtures({ ...SMALL, seed: 2 });
  assert.notDeepEqual(a.plans.map(renderPolicyText), c.plans.map(renderPolicyText));
});

test('every generated policy loads without a problem and selects a handful of endpoints', () => {
  const fixtures = generatePolicyFixtures(SMALL);
  assert.equal(fixtures.plans.length, SMALL.policies);
  assert.equal(fixtures.endpoints.length, SMALL.endpoints);
  assert.equal(new Set(fixtures.endpoints.map((e) => `${e.namespace}/${e.name}`)).size, SMALL.endpoints);
  const repo = new Repository();
  for (const e of fixtures.endpoints) repo.upsertEndpoint(e);
  for (const policy of loadAll(fixtures)) {
    const selected = repo.upsertPolicy(policy).length;
    assert.ok(selected >= 1 && selected <= 25, `${policy.origin.namespace}/${policy.origin.name} selects ${selected} endpoints`);
  }
});

test('both kinds of update produce a loadable policy that still selects endpoints', () => {
  const fixtures = generatePolicyFixtures(SMALL);
  const rng = new Rng(3);
  const repo = new Repository();
  for (const e of fixtures.endpoints) repo.upsertEndpoint(e);
  for (const policy of loadAll(fixtures)) repo.upsertPolicy(policy);
  fixtures.plans.slice(0, 20).forEach((plan, i) => {
    const kind = i % 2 === 0 ? 'add-http-rule' : 'change-selector';
    const next = updatePlan(plan, kind, rng, fixtures);
    const [before] = loadPolicyText(policyFileName(plan), renderPolicyText(plan)).policies;
    const r = loadPolicyText(policyFileName(next), renderPolicyText(next));
    assert.deepEqual(r.problems, [], renderPolicyText(next));
    const after = r.policies[0]!;
    // An update replaces the policy the bench loaded (same file, same name) and changes it.
    assert.equal(policyFileName(next), policyFileName(plan));
    assert.equal(after.origin.name, before!.origin.name);
    assert.equal(after.origin.namespace, before!.origin.namespace);
    if (kind === 'add-http-rule') {
      assert.equal(after.rules[0]!.ingress.length, before!.rules[0]!.ingress.length + 1, `update ${i} of ${plan.name} adds no ingress rule`);
    } else {
      assert.notDeepEqual(after.rules[0]!.subject, before!.rules[0]!.subject, `update ${i} of ${plan.name} keeps its selector`);
    }
    assert.ok(repo.upsertPolicy(after).length >= 1, `update ${i} of ${plan.name} affects no endpoint`);
  });
});

test('the sample flow names two generated endpoints', () => {
  const fixtures = generatePolicyFixtures(SMALL);
  const ids = new Set(fixtures.endpoints.map((e) => `${e.namespace}/${e.name}`));
  assert.ok(ids.has(fixtures.sampleFlow.from) && ids.has(fixtures.sampleFlow.to));
  assert.notEqual(fixtures.sampleFlow.from, fixtures.sampleFlow.to);
});
