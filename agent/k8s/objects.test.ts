// Translation of single API objects: what the watcher hands to the agent, and the errors that name
// the object and the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { K8sError } from './errors.js';
import { objectRefOf, podEndpointSpec, policySourceOf, serviceSpecOf } from './objects.js';
import { createKubeConfig } from './watcher.js';

const pod = (over: Record<string, unknown> = {}) => ({
  metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 'web' } },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }] }, { name: 'd', ports: [{ name: 'http', containerPort: 81 }] }] },
  status: { phase: 'Running', podIP: '10.0.0.5' },
  ...over,
});

test('a pod with only status.podIP (older API servers) has that IP; the first container with a port name wins it', () => {
  const spec = podEndpointSpec(pod(), { team: 'a' })!;
  assert.deepEqual(spec.ips, ['10.0.0.5']);
  assert.deepEqual(spec.namedPorts, [{ name: 'http', port: 80, protocol: 'TCP' }]);
  assert.equal(spec.serviceAccount, 'default');
  assert.deepEqual(spec.namespaceLabels, { team: 'a' });
});

test('a pod label that is not a string is refused with the field named', () => {
  assert.throws(
    () => podEndpointSpec(pod({ metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', labels: { app: 7 } } }), {}),
    (e: unknown) => e instanceof K8sError && e.code === 'MESHD_ERR_K8S_INVALID_OBJECT' && e.field === 'metadata.labels.app' && e.message.startsWith('Pod shop/web-1: '),
  );
});

test('a namespaced object without a namespace is refused', () => {
  assert.throws(() => objectRefOf('CiliumNetworkPolicy', { metadata: { name: 'p' } }), /CiliumNetworkPolicy p: metadata.namespace is missing/);
  assert.deepEqual(objectRefOf('CiliumClusterwideNetworkPolicy', { metadata: { name: 'p' } }), { kind: 'CiliumClusterwideNetworkPolicy', name: 'p' });
});

test('a service port with a bad protocol is refused; a headless service has no cluster IP', () => {
  const svc = { metadata: { name: 's', namespace: 'n' }, spec: { clusterIP: 'None', ports: [{ port: 80, targetPort: 'http' }] } };
  assert.deepEqual(serviceSpecOf(svc).clusterIPs, []);
  assert.throws(() => serviceSpecOf({ ...svc, spec: { ports: [{ port: 80, protocol: 'ICMP' }] } }), /Service n\/s: spec.ports\[0\].protocol is not TCP, UDP or SCTP/);
});

test('a policy source keeps the audit annotation and drops the last-applied copy; list items get their kind', () => {
  const { source } = policySourceOf('NetworkPolicy', {
    metadata: { name: 'np', namespace: 'n', resourceVersion: '5', annotations: { 'meshd.io/audit-mode': 'true', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    spec: { podSelector: {} },
  });
  assert.equal(source.file, 'k8s://NetworkPolicy/n/np');
  const doc = JSON.parse(source.text) as Record<string, unknown>;
  assert.deepEqual(doc, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'n', annotations: { 'meshd.io/audit-mode': 'true' } }, spec: { podSelector: {} } });
});

test('outside a pod and without a kubeconfig, the client configuration is refused with MESHD_ERR_K8S_CONFIG', () => {
  const saved = process.env['KUBERNETES_SERVICE_HOST'];
  delete process.env['KUBERNETES_SERVICE_HOST'];
  try {
    assert.throws(() => createKubeConfig(), (e: unknown) => e instanceof K8sError && e.code === 'MESHD_ERR_K8S_CONFIG');
    assert.throws(() => createKubeConfig({ kubeconfig: '/nonexistent/kubeconfig' }), (e: unknown) => e instanceof K8sError && e.code === 'MESHD_ERR_K8S_CONFIG' && /\/nonexistent\/kubeconfig/.test(e.hint ?? ''));
  } finally {
    if (saved !== undefined) process.env['KUBERNETES_SERVICE_HOST'] = saved;
  }
});
