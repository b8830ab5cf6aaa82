import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointLabels } from './endpoint-labels.js';

test('a pod gets its labels, namespace, cluster and namespace labels under k8s', () => {
  const set = endpointLabels({ namespace: 'prod', labels: { app: 'web' }, namespaceLabels: { team: 'a' } });
  assert.deepEqual(set.toStrings(), [
    'k8s:app=web',
    'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=prod',
    'k8s:io.cilium.k8s.namespace.labels.team=a',
    'k8s:io.cilium.k8s.policy.cluster=default',
    'k8s:io.kubernetes.pod.namespace=prod',
  ]);
});

test('the service account and cluster name are added when given', () => {
  const set = endpointLabels({ namespace: 'ns', labels: {}, serviceAccount: 'api', clusterName: 'east' });
  assert.equal(set.get('k8s', 'io.cilium.k8s.policy.serviceaccount')?.value, 'api');
  assert.equal(set.get('k8s', 'io.cilium.k8s.policy.cluster')?.value, 'east');
  assert.equal(set.get('k8s', 'io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name')?.value, 'ns');
});

test('a pod label cannot override the namespace Cilium derives', () => {
  const set = endpointLabels({ namespace: 'prod', labels: { 'io.kubernetes.pod.namespace': 'kube-system' } });
  assert.equal(set.get('k8s', 'io.kubernetes.pod.namespace')?.value, 'prod');
});
