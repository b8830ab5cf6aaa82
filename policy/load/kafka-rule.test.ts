import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPolicyText, type KafkaRule, type PolicyProblem } from '../index.js';

/** A CNP whose one ingress port carries the given Kafka rules, written as flow-style YAML lines. */
const kafkaPolicy = (...rules: string[]) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: broker
  namespace: default
spec:
  endpointSelector: {matchLabels: {app: kafka}}
  ingress:
    - toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules:
            kafka:
${rules.map((r) => `              - ${r}`).join('\n')}
`;

function loadedRules(text: string): KafkaRule[] {
  const r = loadPolicyText('kafka.yaml', text);
  assert.deepEqual(r.problems, []);
  const l7 = r.policies[0]!.rules[0]!.ingress[0]!.toPorts[0]!.rules;
  assert.equal(l7?.type, 'kafka');
  return l7.type === 'kafka' ? l7.kafka.map(({ position: _, ...rule }) => rule as KafkaRule) : [];
}

function problemsOf(rule: string): PolicyProblem[] {
  const r = loadPolicyText('kafka.yaml', kafkaPolicy(rule));
  assert.deepEqual(r.policies, []);
  return r.problems;
}

test('topicPrefix and groupID load beside Cilium’s fields', () => {
  assert.deepEqual(
    loadedRules(
      kafkaPolicy('{role: consume, topicPrefix: orders., groupID: billing}', '{apiKey: OffsetCommit, topic: audit, groupID: "billing team #1"}', '{apiKey: listoffsets}', '{apiKey: saslauthenticate}'),
    ),
    [
      { role: 'consume', topicPrefix: 'orders.', groupID: 'billing' },
      { apiKey: 'offsetcommit', topic: 'audit', groupID: 'billing team #1' },
      { apiKey: 'listoffsets' },
      { apiKey: 'saslauthenticate' },
    ],
  );
});

test('a topicPrefix of 255 characters loads, 256 does not', () => {
  assert.deepEqual(loadedRules(kafkaPolicy(`{topicPrefix: ${'a'.repeat(255)}}`)), [{ topicPrefix: 'a'.repeat(255) }]);
  const [p] = problemsOf(`{topicPrefix: ${'a'.repeat(256)}}`);
  assert.equal(p?.code, 'MESHD_ERR_POLICY_INVALID_VALUE');
});

const INVALID: Array<{ what: string; rule: string; code: PolicyProblem['code']; field: string; message: RegExp; marker: string }> = [
  { what: 'a topicPrefix with a character topics may not have', rule: '{topicPrefix: "orders/"}', code: 'MESHD_ERR_POLICY_INVALID_VALUE', field: 'topicPrefix', message: /invalid Kafka topicPrefix "orders\/"/, marker: '"orders/"' },
  { what: 'an empty topicPrefix', rule: '{topicPrefix: ""}', code: 'MESHD_ERR_POLICY_INVALID_VALUE', field: 'topicPrefix', message: /invalid Kafka topicPrefix ""/, marker: '""' },
  { what: 'a topicPrefix that is not a string', rule: '{topicPrefix: [a]}', code: 'MESHD_ERR_POLICY_WRONG_TYPE', field: 'topicPrefix', message: /topicPrefix must be a string/, marker: '[a]' },
  { what: 'topic and topicPrefix together', rule: '{topic: orders, topicPrefix: orders.}', code: 'MESHD_ERR_POLICY_CONFLICT', field: 'topicPrefix', message: /topic or topicPrefix, not both/, marker: 'topicPrefix' },
  { what: 'an empty groupID', rule: '{groupID: ""}', code: 'MESHD_ERR_POLICY_INVALID_VALUE', field: 'groupID', message: /invalid Kafka groupID ""/, marker: '""' },
  { what: 'a groupID of 256 characters', rule: `{groupID: ${'g'.repeat(256)}}`, code: 'MESHD_ERR_POLICY_INVALID_VALUE', field: 'groupID', message: /invalid Kafka groupID/, marker: 'ggg' },
  { what: 'a groupID with a control character', rule: '{groupID: "billing\\tteam"}', code: 'MESHD_ERR_POLICY_INVALID_VALUE', field: 'groupID', message: /invalid Kafka groupID "billing\\tteam"/, marker: '"billing' },
  { what: 'a groupID with a zero-width character', rule: '{groupID: "bill\\u200Bing"}', code: 'MESHD_ERR_POLICY_INVALID_VALUE', field: 'groupID', message: /invalid Kafka groupID/, marker: '"bill' },
  { what: 'a groupID that is a number', rule: '{groupID: 7}', code: 'MESHD_ERR_POLICY_WRONG_TYPE', field: 'groupID', message: /groupID must be a string/, marker: '7}' },
  { what: 'a misspelled apiKey', rule: '{apiKey: offsetcomit}', code: 'MESHD_ERR_POLICY_INVALID_VALUE', field: 'apiKey', message: /unknown Kafka apiKey "offsetcomit"/, marker: 'offsetcomit' },
  { what: 'a misspelled groupID field', rule: '{groupId: billing}', code: 'MESHD_ERR_POLICY_UNKNOWN_FIELD', field: 'groupId', message: /unknown field "groupId"/, marker: 'groupId' },
];

for (const row of INVALID) {
  test(`${row.what} is refused at its own place`, () => {
    const text = kafkaPolicy(row.rule);
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.startsWith('              - '));
    const problems = problemsOf(row.rule);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    const [p] = problems;
    assert.equal(p!.code, row.code);
    assert.equal(p!.path, `spec.ingress[0].toPorts[0].rules.kafka[0].${row.field}`);
    assert.match(p!.message, row.message);
    assert.equal(p!.position.line, line + 1);
    assert.equal(p!.position.col, lines[line]!.indexOf(row.marker) + 1);
    if (row.code !== 'MESHD_ERR_POLICY_WRONG_TYPE') assert.ok(p!.hint, 'every Kafka value problem carries a hint');
  });
}

test('a misspelled apiKey gets the closest API name as a hint', () => {
  const [p] = problemsOf('{apiKey: offsetcomit}');
  assert.match(p!.hint ?? '', /did you mean "offsetcommit"\?/);
});
