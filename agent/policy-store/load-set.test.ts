import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSourceSet } from './load-set.js';

const cnp = (name: string, extra = '') => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: ${name}${extra}
spec:
  endpointSelector: { matchLabels: { app: a } }
  ingress: [{ fromEndpoints: [{ matchLabels: { app: b } }] }]
`;

describe('loading a policy source set', () => {
  test('each policy keeps the text of its own document', () => {
    const r = loadSourceSet([{ file: 'two.yaml', text: `${cnp('one')}---\n${cnp('two')}` }]);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.entries.map((e) => e.key), ['CiliumNetworkPolicy/default/one', 'CiliumNetworkPolicy/default/two']);
    assert.ok(r.entries[0]!.documentText.includes('name: one') && !r.entries[0]!.documentText.includes('name: two'));
    assert.ok(r.entries[1]!.documentText.includes('name: two') && !r.entries[1]!.documentText.includes('name: one'));
  });

  test('one broken source refuses the whole set, with the file, line and column of every problem', () => {
    const r = loadSourceSet([
      { file: 'good.yaml', text: cnp('good') },
      { file: 'bad.yaml', text: cnp('bad').replace('app: b', 'app: [b') },
    ]);
    assert.deepEqual(r.entries, []);
    assert.ok(r.problems.length > 0);
    assert.ok(r.problems.every((p) => p.position.file === 'bad.yaml' && p.position.line > 0 && p.position.col > 0));
  });

  test('the same kind, namespace and name twice in one set is a problem', () => {
    const r = loadSourceSet([
      { file: 'a.yaml', text: cnp('same') },
      { file: 'b.yaml', text: cnp('same') },
    ]);
    assert.deepEqual(r.entries, []);
    assert.equal(r.problems[0]?.code, 'MESHD_ERR_POLICY_DUPLICATE_NAME');
    assert.equal(r.problems[0]?.position.file, 'b.yaml');
  });

  test('the audit-mode annotation is read per policy, in a kind: List too', () => {
    const audited = cnp('audited', '\n  annotations: { meshd.io/audit-mode: "true" }');
    const r = loadSourceSet([{ file: 'a.yaml', text: `${audited}---\n${cnp('plain', '\n  annotations: { meshd.io/audit-mode: "false" }')}` }]);
    assert.deepEqual(r.entries.map((e) => [e.policy.origin.name, e.auditMode]), [['audited', true], ['plain', false]]);
    const list = `apiVersion: v1
kind: List
items:
- apiVersion: cilium.io/v2
  kind: CiliumNetworkPolicy
  metadata: { name: x, annotations: { meshd.io/audit-mode: "true" } }
  spec: { endpointSelector: {}, ingress: [{}] }
- apiVersion: cilium.io/v2
  kind: CiliumNetworkPolicy
  metadata: { name: y }
  spec: { endpointSelector: {}, ingress: [{}] }
`;
    const l = loadSourceSet([{ file: 'list.yaml', text: list }]);
    assert.deepEqual(l.problems, []);
    assert.deepEqual(l.entries.map((e) => [e.policy.origin.name, e.auditMode]), [['x', true], ['y', false]]);
  });
});
