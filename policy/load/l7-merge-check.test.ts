import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicyText } from './load-sources.js';

const policy = (secondSubject: string, secondRules: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: mixed}
specs:
- endpointSelector: {matchLabels: {app: x}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: y}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: {http: [{method: GET}]}
- endpointSelector: {matchLabels: {app: ${secondSubject}}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: y}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules: ${secondRules}
`;

test('HTTP and Kafka rules for the same subject, peers and port are refused as an L7 merge conflict', () => {
  const r = loadPolicyText('mixed.yaml', policy('x', '{kafka: [{topic: a}]}'));
  assert.deepEqual(r.problems.map((p) => [p.code, p.position.line, p.path]), [['MESHD_ERR_POLICY_L7_MERGE', 15, 'specs[1].ingress[0]']]);
});

test('the same L7 protocol twice on one port merges (the lists are ORed)', () => {
  assert.deepEqual(loadPolicyText('same.yaml', policy('x', '{http: [{method: POST}]}')).problems, []);
});

test('different L7 protocols for different subjects do not conflict', () => {
  assert.deepEqual(loadPolicyText('other.yaml', policy('z', '{kafka: [{topic: a}]}')).problems, []);
});
