import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policyRules, redirectRules } from './iptables.js';

test('a policy of N rules has N rules in OUTPUT, the allows last before the final DROP', () => {
  const rules = policyRules(100, '10.244.0.11', [7000, 7002]).split('\n');
  const output = rules.filter((l) => l.startsWith('-A OUTPUT'));
  assert.equal(output.length, 100);
  assert.deepEqual(output.slice(-3), [
    '-A OUTPUT -d 10.244.0.11/32 -p tcp -m tcp --dport 7000 -j ACCEPT',
    '-A OUTPUT -d 10.244.0.11/32 -p tcp -m tcp --dport 7002 -j ACCEPT',
    '-A OUTPUT -p tcp -j DROP',
  ]);
  assert.equal(new Set(output).size, 100, 'fillers are distinct');
  assert.equal(rules[0], '*filter');
  assert.ok(rules.includes('COMMIT'));
});

test('redirect rules DNAT each service port to its relay port on the gateway', () => {
  const rules = redirectRules('10.244.0.11', '10.244.0.1', new Map([[7000, 15102]]));
  assert.match(rules, /^\*nat$/m);
  assert.match(rules, /^-A OUTPUT -d 10\.244\.0\.11\/32 -p tcp -m tcp --dport 7000 -j DNAT --to-destination 10\.244\.0\.1:15102$/m);
});
