import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isServiceName } from './field-readers.js';
import { loadPolicyText } from './load-sources.js';

test('named ports are IANA service names: letters required, inner single hyphens, at most 15', () => {
  for (const ok of ['http', 'http-alt', 'h2c', 'a1-b2-c3', 'abcdefghijklmno']) assert.ok(isServiceName(ok), ok);
  for (const bad of ['', '80', 'http-', '-http', 'ht--tp', 'HTTP', 'abcdefghijklmnop', 'http_alt']) assert.ok(!isServiceName(bad), bad);
});

test('a NetworkPolicy and a CiliumNetworkPolicy refuse the same malformed named port', () => {
  const knp = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: http-}]
`;
  const cnp = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p}
spec:
  endpointSelector: {}
  ingress:
  - toPorts: [{ports: [{port: http-}]}]
`;
  for (const [file, text] of [['knp.yaml', knp], ['cnp.yaml', cnp]] as const) {
    assert.deepEqual(loadPolicyText(file, text).problems.map((p) => [p.code, p.position.line]), [['MESHD_ERR_POLICY_INVALID_VALUE', 7]], file);
  }
});
