import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelSet, labelSetKey } from './label-set.js';

test('a label set is sorted by source then key whatever the input order', () => {
  const set = LabelSet.parse(['reserved:host', 'k8s:zone=a', 'k8s:app=web']);
  assert.deepEqual(set.toStrings(), ['k8s:app=web', 'k8s:zone=a', 'reserved:host']);
  assert.equal(set.size, 3);
});

test('labelSetKey is the sorted kvstore form and ignores input order', () => {
  const a = LabelSet.parse(['k8s:app=web', 'reserved:host']);
  const b = LabelSet.parse(['reserved:host', 'k8s:app=web']);
  assert.equal(labelSetKey(a), 'k8s:app=web;reserved:host=;');
  assert.equal(labelSetKey(a), labelSetKey(b));
  assert.ok(a.equals(b));
  assert.equal(labelSetKey(LabelSet.EMPTY), '');
});

test('labelSetKey cannot be forged by separators inside keys or values', () => {
  const one = LabelSet.from([{ source: 'fqdn', key: 'a=b;k8s:c', value: '' }]);
  const two = LabelSet.from([
    { source: 'fqdn', key: 'a', value: 'b' },
    { source: 'k8s', key: 'c', value: '' },
  ]);
  assert.notEqual(labelSetKey(one), labelSetKey(two));
});

test('a later label replaces an earlier one with the same source and key', () => {
  const set = LabelSet.parse(['k8s:app=a', 'k8s:app=b', 'any:app=c']);
  assert.equal(set.get('k8s', 'app')?.value, 'b');
  assert.equal(set.size, 2);
});

test('labels are found by source and key, or by key across sources', () => {
  const set = LabelSet.parse(['k8s:app=web', 'container:app=x', 'reserved:host']);
  assert.equal(set.get('k8s', 'app')?.value, 'web');
  assert.equal(set.get('reserved', 'app'), undefined);
  assert.ok(set.has('reserved', 'host'));
  assert.deepEqual(
    set.getAnySource('app').map((l) => l.source),
    ['container', 'k8s'],
  );
  assert.deepEqual(set.getAnySource('missing'), []);
});

test('with returns a new set and leaves the original alone', () => {
  const base = LabelSet.parse(['k8s:app=web']);
  const more = base.with([{ source: 'k8s', key: 'tier', value: 'front' }]);
  assert.deepEqual(base.toStrings(), ['k8s:app=web']);
  assert.deepEqual(more.toStrings(), ['k8s:app=web', 'k8s:tier=front']);
  assert.throws(() => (base.toArray() as unknown[]).push(1));
});
