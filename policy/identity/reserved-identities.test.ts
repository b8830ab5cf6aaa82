import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelSet } from '../labels/index.js';
import { RESERVED_IDENTITIES, reservedIdentityById, reservedIdentityByLabels, reservedIdentityByName } from './reserved-identities.js';

test('reserved identities have Cilium ids 1 to 10', () => {
  assert.deepEqual(
    RESERVED_IDENTITIES.map((r) => [r.id, r.name]),
    [
      [1, 'host'],
      [2, 'world'],
      [3, 'unmanaged'],
      [4, 'health'],
      [5, 'init'],
      [6, 'remote-node'],
      [7, 'kube-apiserver'],
      [8, 'ingress'],
      [9, 'world-ipv4'],
      [10, 'world-ipv6'],
    ],
  );
});

test('each reserved identity carries its own reserved label', () => {
  for (const r of RESERVED_IDENTITIES) assert.ok(r.labels.has('reserved', r.name), r.name);
  assert.deepEqual(reservedIdentityByName('host')?.labels.toStrings(), ['reserved:host']);
});

test('the split world identities also carry reserved:world and their family\'s zero-length CIDR', () => {
  assert.deepEqual(reservedIdentityByName('world-ipv4')?.labels.toStrings(), ['cidr:0.0.0.0/0', 'reserved:world', 'reserved:world-ipv4']);
  assert.deepEqual(reservedIdentityByName('world-ipv6')?.labels.toStrings(), ['cidr:::/0', 'reserved:world', 'reserved:world-ipv6']);
  assert.deepEqual(reservedIdentityByName('world')?.labels.toStrings(), ['cidr:0.0.0.0/0', 'cidr:::/0', 'reserved:world']);
});

test('reserved identities are found by name, id and exact label set', () => {
  assert.equal(reservedIdentityByName('kube-apiserver')?.id, 7);
  assert.equal(reservedIdentityByName('none'), undefined);
  assert.equal(reservedIdentityById(8)?.name, 'ingress');
  assert.equal(reservedIdentityById(11), undefined);
  assert.equal(reservedIdentityByLabels(LabelSet.parse(['reserved:health']))?.id, 4);
  assert.equal(reservedIdentityByLabels(LabelSet.parse(['reserved:health', 'k8s:app=x'])), undefined);
});
