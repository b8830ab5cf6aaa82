import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTITIES } from '../model.js';
import type { Entity } from '../model.js';
import { parseCidr } from '../cidr/index.js';
import { endpointLabels, LabelSet, matchesSelector } from '../labels/index.js';
import { cidrIdentityLabels } from './cidr-identity-labels.js';
import { entitySelectors } from './entity-selectors.js';
import { RESERVED_IDENTITIES, reservedIdentityByName } from './reserved-identities.js';

function cidrIdentity(text: string): LabelSet {
  const r = parseCidr(text);
  assert.ok(r.ok);
  return cidrIdentityLabels(r.prefix, []);
}

const localPod = endpointLabels({ namespace: 'prod', labels: { app: 'web' } });
const remotePod = endpointLabels({ namespace: 'prod', labels: { app: 'web' }, clusterName: 'west' });

function selects(entity: Entity, labels: LabelSet, clusterName?: string): boolean {
  return entitySelectors(entity, clusterName).some((s) => matchesSelector(s, labels));
}

function selectedReserved(entity: Entity): number[] {
  return RESERVED_IDENTITIES.filter((r) => selects(entity, r.labels)).map((r) => r.id);
}

test('world selects the world identities and CIDR identities, not pods or the host', () => {
  assert.deepEqual(selectedReserved('world'), [2, 9, 10]);
  assert.equal(selects('world', cidrIdentity('203.0.113.0/24')), true);
  assert.equal(selects('world', cidrIdentity('2001:db8::/48')), true);
  assert.equal(selects('world', localPod), false);
});

test('world-ipv4 and world-ipv6 each select their own family only', () => {
  assert.deepEqual(selectedReserved('world-ipv4'), [9]);
  assert.deepEqual(selectedReserved('world-ipv6'), [10]);
  assert.equal(selects('world-ipv4', cidrIdentity('203.0.113.0/24')), true);
  assert.equal(selects('world-ipv4', cidrIdentity('2001:db8::/48')), false);
});

test('cluster selects the in-cluster reserved identities and pods of the local cluster, not world', () => {
  assert.deepEqual(selectedReserved('cluster'), [1, 3, 4, 5, 6, 7, 8]);
  assert.equal(selects('cluster', localPod), true);
  assert.equal(selects('cluster', remotePod), false);
  assert.equal(selects('cluster', remotePod, 'west'), true);
  assert.equal(selects('cluster', cidrIdentity('10.0.0.0/8')), false);
});

test('cluster-mesh adds pods of every cluster to the cluster set', () => {
  assert.deepEqual(selectedReserved('cluster-mesh'), [1, 3, 4, 5, 6, 7, 8]);
  assert.equal(selects('cluster-mesh', localPod), true);
  assert.equal(selects('cluster-mesh', remotePod), true);
  assert.equal(selects('cluster-mesh', cidrIdentity('10.0.0.0/8')), false);
});

test('single reserved entities select exactly their identity', () => {
  for (const name of ['host', 'init', 'ingress', 'unmanaged', 'remote-node', 'health', 'kube-apiserver'] as const) {
    assert.deepEqual(selectedReserved(name), [reservedIdentityByName(name)?.id], name);
    assert.equal(selects(name, localPod), false, name);
  }
});

test('all selects everything and none selects nothing', () => {
  assert.deepEqual(selectedReserved('all'), RESERVED_IDENTITIES.map((r) => r.id));
  assert.equal(selects('all', localPod), true);
  assert.deepEqual(selectedReserved('none'), []);
  assert.equal(selects('none', localPod), false);
  assert.equal(selects('none', LabelSet.parse(['reserved:none'])), true, 'only the label nothing carries');
});

test('every entity of the model has an expansion', () => {
  for (const entity of ENTITIES) assert.ok(entitySelectors(entity).length > 0, entity);
});
