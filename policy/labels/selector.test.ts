import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabelSelector } from '../model.js';
import { LabelSet } from './label-set.js';
import {
  makeRequirement,
  matchesSelector,
  selectorConstrainsKey,
  selectorFromMatchLabels,
  selectorKey,
  withRequirement,
} from './selector.js';

const web = LabelSet.parse(['k8s:app=web', 'k8s:tier=front', 'k8s:io.kubernetes.pod.namespace=prod']);
const host = LabelSet.parse(['reserved:host']);

function sel(...requirements: LabelSelector['requirements']): LabelSelector {
  return { requirements };
}

test('a selector without requirements matches every label set', () => {
  assert.equal(matchesSelector(sel(), web), true);
  assert.equal(matchesSelector(sel(), LabelSet.EMPTY), true);
});

test('In needs the label with one of the values', () => {
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'app', 'In', ['api', 'web'])), web), true);
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'app', 'In', ['api'])), web), false);
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'missing', 'In', ['web'])), web), false);
});

test('NotIn holds when the label is absent or has another value', () => {
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'app', 'NotIn', ['api'])), web), true);
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'missing', 'NotIn', ['api'])), web), true);
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'app', 'NotIn', ['web'])), web), false);
});

test('Exists and DoesNotExist look only at the key', () => {
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'tier', 'Exists')), web), true);
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'tier', 'DoesNotExist')), web), false);
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'db', 'DoesNotExist')), web), true);
});

test('source any matches the key under every source, a named source only its own', () => {
  const mixed = LabelSet.parse(['container:app=web']);
  assert.equal(matchesSelector(sel(makeRequirement('any', 'app', 'In', ['web'])), mixed), true);
  assert.equal(matchesSelector(sel(makeRequirement('k8s', 'app', 'In', ['web'])), mixed), false);
  assert.equal(matchesSelector(sel(makeRequirement('any', 'host', 'Exists')), host), true);
  assert.equal(matchesSelector(sel(makeRequirement('any', 'app', 'NotIn', ['web'])), mixed), false);
});

test('all requirements must hold', () => {
  const s = sel(makeRequirement('any', 'app', 'In', ['web']), makeRequirement('any', 'tier', 'In', ['back']));
  assert.equal(matchesSelector(s, web), false);
});

test('matchLabels keys become In requirements with source any unless they name one', () => {
  const s = selectorFromMatchLabels({ app: 'web', 'k8s:io.kubernetes.pod.namespace': 'prod', 'reserved:host': '' });
  assert.deepEqual(s.requirements, [
    { source: 'any', key: 'app', operator: 'In', values: ['web'] },
    { source: 'k8s', key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['prod'] },
    { source: 'reserved', key: 'host', operator: 'In', values: [''] },
  ]);
  assert.equal(matchesSelector(s, web), false);
  assert.equal(matchesSelector(selectorFromMatchLabels({ 'reserved:host': '' }), host), true);
});

test('selectorKey ignores requirement order, value order and duplicates', () => {
  const a = sel(makeRequirement('any', 'app', 'In', ['b', 'a']), makeRequirement('k8s', 'x', 'Exists'));
  const b = sel(
    { source: 'k8s', key: 'x', operator: 'Exists', values: [] },
    { source: 'any', key: 'app', operator: 'In', values: ['a', 'b', 'a'] },
    { source: 'k8s', key: 'x', operator: 'Exists', values: [] },
  );
  assert.equal(selectorKey(a), selectorKey(b));
  assert.notEqual(selectorKey(a), selectorKey(sel(makeRequirement('k8s', 'app', 'In', ['a', 'b']))));
  assert.equal(selectorKey(sel()), '[]');
});

test('withRequirement adds a normalised requirement once and does not mutate its input', () => {
  const base = selectorFromMatchLabels({ app: 'web' });
  const ns = { source: 'k8s', key: 'io.kubernetes.pod.namespace', operator: 'In' as const, values: ['prod', 'prod'] };
  const scoped = withRequirement(base, ns);
  assert.equal(base.requirements.length, 1);
  assert.deepEqual(scoped.requirements[1], { ...ns, values: ['prod'] });
  assert.equal(withRequirement(scoped, ns), scoped);
});

test('selectorConstrainsKey reports whether a requirement is about a matching key', () => {
  const s = selectorFromMatchLabels({ 'k8s:io.cilium.k8s.namespace.labels.team': 'a' });
  assert.equal(selectorConstrainsKey(s, (key) => key.startsWith('io.cilium.k8s.namespace.labels.')), true);
  assert.equal(selectorConstrainsKey(s, (key, source) => key === 'io.kubernetes.pod.namespace' && source === 'k8s'), false);
  assert.equal(selectorConstrainsKey(sel(), () => true), false);
});
