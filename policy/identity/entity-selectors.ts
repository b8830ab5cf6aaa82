// What each policy entity selects (cilium pkg/policy/api/entity.go, EntitySelectorMapping).
// Reserved entities are written as `matchLabels: {reserved:<name>: ''}` so they share cache
// entries with the same selector written by hand in a policy.
import type { Entity, LabelSelector } from '../model.js';
import { CLUSTER_LABEL, DEFAULT_CLUSTER_NAME, makeRequirement, selectorFromMatchLabels } from '../labels/index.js';

/** Everything in the cluster that is not a pod (v1.20 also adds aggregate id 11, which meshd does not use). */
const CLUSTER_RESERVED = ['host', 'remote-node', 'init', 'ingress', 'health', 'unmanaged', 'kube-apiserver'];

const EXPANSIONS: Record<Entity, (clusterName: string) => LabelSelector[]> = {
  all: () => [{ requirements: [] }],
  world: () => [reservedSelector('world')],
  'world-ipv4': () => [reservedSelector('world-ipv4')],
  'world-ipv6': () => [reservedSelector('world-ipv6')],
  host: () => [reservedSelector('host')],
  init: () => [reservedSelector('init')],
  ingress: () => [reservedSelector('ingress')],
  unmanaged: () => [reservedSelector('unmanaged')],
  'remote-node': () => [reservedSelector('remote-node')],
  health: () => [reservedSelector('health')],
  'kube-apiserver': () => [reservedSelector('kube-apiserver')],
  cluster: (clusterName) => [
    ...CLUSTER_RESERVED.map(reservedSelector),
    selectorFromMatchLabels({ [`k8s:${CLUSTER_LABEL}`]: clusterName }),
  ],
  // Pods of every cluster; the local cluster's pods are among them.
  'cluster-mesh': () => [
    ...CLUSTER_RESERVED.map(reservedSelector),
    { requirements: [makeRequirement('k8s', CLUSTER_LABEL, 'Exists')] },
  ],
  // No identity carries reserved:none; Cilium uses the same label to select nothing.
  none: () => [reservedSelector('none')],
};

export function entitySelectors(entity: Entity, clusterName: string = DEFAULT_CLUSTER_NAME): LabelSelector[] {
  return EXPANSIONS[entity](clusterName);
}

function reservedSelector(name: string): LabelSelector {
  return selectorFromMatchLabels({ [`reserved:${name}`]: '' });
}
