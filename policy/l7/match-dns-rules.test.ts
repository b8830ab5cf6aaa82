import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnsRule } from '../model.js';
import { matchDnsRules } from './index.js';

const position = { file: 'test.yaml', line: 1, col: 1 };
const name = (matchName: string): DnsRule => ({ matchName, position });
const pattern = (matchPattern: string): DnsRule => ({ matchPattern, position });

test('an empty rule list allows every query', () => {
  assert.deepEqual(matchDnsRules([], 'anything.example'), { allowed: true, index: -1 });
});

test('the first rule whose name or pattern matches the query allows it', () => {
  const rules = [name('api.github.com'), pattern('*.cilium.io'), pattern('**.amazonaws.com')];
  assert.deepEqual(matchDnsRules(rules, 'api.github.com.'), { allowed: true, index: 0 });
  assert.deepEqual(matchDnsRules(rules, 'docs.cilium.io'), { allowed: true, index: 1 });
  assert.deepEqual(matchDnsRules(rules, 's3.eu-west-1.amazonaws.com.'), { allowed: true, index: 2 });
});

test('a query no rule matches is denied', () => {
  const rules = [name('api.github.com'), pattern('*.cilium.io')];
  assert.deepEqual(matchDnsRules(rules, 'github.com'), { allowed: false, index: -1 });
  assert.deepEqual(matchDnsRules(rules, 'a.b.cilium.io'), { allowed: false, index: -1 });
  assert.deepEqual(matchDnsRules(rules, 'cilium.io'), { allowed: false, index: -1 });
  assert.deepEqual(matchDnsRules(rules, 'api.github.com.evil.com'), { allowed: false, index: -1 });
});

test('query names match case-insensitively, as resolvers randomise case', () => {
  assert.deepEqual(matchDnsRules([name('api.github.com')], 'aPi.GitHub.COM.'), { allowed: true, index: 0 });
  assert.deepEqual(matchDnsRules([pattern('*.Cilium.IO')], 'WWW.cilium.io'), { allowed: true, index: 0 });
});

test('matchPattern "*" allows every query', () => {
  for (const query of ['a.com', 'x.y.z.', '.', 'localhost']) {
    assert.deepEqual(matchDnsRules([pattern('*')], query), { allowed: true, index: 0 }, query);
  }
  assert.equal(matchDnsRules([pattern('*')], '').allowed, false);
});

test('the same rule objects give the same answers on repeated queries', () => {
  const rules = [pattern('sub*.cilium.io')];
  for (let i = 0; i < 3; i++) {
    assert.equal(matchDnsRules(rules, 'subdomain.cilium.io').allowed, true);
    assert.equal(matchDnsRules(rules, 'www.cilium.io').allowed, false);
  }
});
