import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FqdnSelector } from '../model.js';
import { compileFqdnMatcher, fqdnSelectorString, normalizeDnsName } from './index.js';

interface Case {
  selector: FqdnSelector;
  accept: string[];
  reject: string[];
}

function check({ selector, accept, reject }: Case): void {
  const matcher = compileFqdnMatcher(selector);
  assert.equal(matcher.error, undefined, JSON.stringify(selector));
  const label = JSON.stringify(selector);
  for (const name of accept) assert.equal(matcher.matches(name), true, `${label} should match ${JSON.stringify(name)}`);
  for (const name of reject) assert.equal(matcher.matches(name), false, `${label} should not match ${JSON.stringify(name)}`);
}

test('a leading `*.` matches exactly one label in front of the domain', () => {
  check({
    selector: { matchPattern: '*.cilium.io' },
    accept: ['sub.cilium.io', 'sub.cilium.io.', 'a-b_c.cilium.io'],
    reject: ['cilium.io', 'a.b.cilium.io', 'sub.cilium.io.evil.com', 'subcilium.io'],
  });
});

test('a lone `*` label may be empty, as in Cilium, though no DNS message can carry that name', () => {
  assert.equal(compileFqdnMatcher({ matchPattern: '*.cilium.io' }).matches('.cilium.io'), true);
});

test('a `*` glued to a label never crosses a dot, so `*cilium.io` covers no subdomain', () => {
  check({
    selector: { matchPattern: '*cilium.io' },
    accept: ['cilium.io', 'subcilium.io', 'sub-cilium.io'],
    reject: ['www.cilium.io', 'sub.subcilium.io'],
  });
});

test('a `*` in the middle or end of a label matches zero or more label characters', () => {
  check({
    selector: { matchPattern: 'sub*.cilium.io' },
    accept: ['sub.cilium.io', 'subdomain.cilium.io'],
    reject: ['su.cilium.io', 'sub.a.cilium.io', 'a.sub.cilium.io'],
  });
  check({
    selector: { matchPattern: 'part*ial.com' },
    accept: ['partial.com', 'part-extra-ial.com'],
    reject: ['part.ial.com', 'parti.com'],
  });
});

test('consecutive stars inside a label act as one', () => {
  check({
    selector: { matchPattern: 'a***b.com' },
    accept: ['ab.com', 'axxb.com'],
    reject: ['a.b.com'],
  });
});

test('a `**.` prefix matches one or more whole labels but not the bare domain', () => {
  check({
    selector: { matchPattern: '**.cilium.io' },
    accept: ['a.cilium.io', 'a.b.cilium.io', 'x.y.z.cilium.io.'],
    reject: ['cilium.io', '.cilium.io', 'a..cilium.io', 'acilium.io'],
  });
  check({
    selector: { matchPattern: '***.cilium.io' },
    accept: ['a.b.cilium.io'],
    reject: ['cilium.io'],
  });
});

test('`**` anywhere but a prefix followed by a dot acts like a single `*`', () => {
  check({
    selector: { matchPattern: 'api.**.io' },
    accept: ['api.cilium.io', 'api.x.io'],
    reject: ['api.a.b.io', 'api.io'],
  });
  check({
    selector: { matchPattern: '**cilium.io' },
    accept: ['cilium.io', 'subcilium.io'],
    reject: ['a.cilium.io'],
  });
});

test('a stars-only pattern matches every valid FQDN and the root, but no malformed name', () => {
  for (const matchPattern of ['*', '**', '***.', '*.']) {
    check({
      selector: { matchPattern },
      accept: ['cilium.io', 'cilium.io.', 'a.b.c.d', 'localhost', '.', 'UPPER.Case.COM'],
      reject: ['', '.cilium.io', 'a..b', 'a b.com', 'a/b.com', 'é.com'],
    });
  }
});

test('names and patterns compare case-insensitively with the trailing dot optional on both sides', () => {
  check({
    selector: { matchPattern: 'API.Cilium.IO.' },
    accept: ['api.cilium.io', 'API.CILIUM.IO.', 'Api.Cilium.Io'],
    reject: ['api.cilium.io..', 'api.cilium.iox'],
  });
  check({
    selector: { matchPattern: '*.CILIUM.io' },
    accept: ['WWW.cilium.IO.'],
    reject: [],
  });
});

test('matchName is an exact name, with dots literal and no wildcard', () => {
  check({
    selector: { matchName: 'cilium.io' },
    accept: ['cilium.io', 'cilium.io.', 'CILIUM.IO'],
    reject: ['www.cilium.io', 'ciliumXio', 'cilium.io.x', 'cilium.i', ''],
  });
  check({
    selector: { matchName: 'Kafka_Broker-1.Example.' },
    accept: ['kafka_broker-1.example'],
    reject: ['kafka_broker-2.example'],
  });
});

test('matchName wins when a selector carries both fields', () => {
  check({ selector: { matchName: 'a.com', matchPattern: '*' }, accept: ['a.com'], reject: ['b.com'] });
});

test('an invalid selector reports why and matches nothing', () => {
  const invalid: FqdnSelector[] = [
    {},
    { matchName: 'bad name.com' },
    { matchName: '*.cilium.io' },
    { matchName: 'a..b' },
    { matchPattern: 'a[b].com' },
    { matchPattern: '.' },
    { matchPattern: 'a'.repeat(256) },
  ];
  for (const selector of invalid) {
    const matcher = compileFqdnMatcher(selector);
    assert.ok(matcher.error !== undefined, JSON.stringify(selector));
    assert.equal(matcher.regex, undefined);
    assert.equal(matcher.matches('a.com'), false);
    assert.equal(matcher.matches('.'), false);
  }
});

test('the regex is Cilium’s anchored lower-case translation', () => {
  assert.equal(compileFqdnMatcher({ matchName: 'Cilium.io' }).regex, '^cilium[.]io[.]$');
  assert.equal(compileFqdnMatcher({ matchPattern: '*.cilium.io' }).regex, '^[-a-zA-Z0-9_]*[.]cilium[.]io[.]$');
  assert.equal(
    compileFqdnMatcher({ matchPattern: '**.cilium.io' }).regex,
    '^([-a-zA-Z0-9_]+([.][-a-zA-Z0-9_]+)*)[.]cilium[.]io[.]$',
  );
  assert.equal(compileFqdnMatcher({ matchPattern: '*' }).regex, '(^([-a-zA-Z0-9_]+[.])+$)|(^[.]$)');
});

test('the selector string is the lower-cased matchName or matchPattern, as in fqdn: labels', () => {
  assert.equal(fqdnSelectorString({ matchName: 'API.Cilium.io' }), 'api.cilium.io');
  assert.equal(fqdnSelectorString({ matchPattern: '*.Cilium.io' }), '*.cilium.io');
  assert.equal(fqdnSelectorString({ matchName: 'a.com', matchPattern: '*' }), 'a.com');
});

test('normalizing a DNS name lower-cases it and adds the root dot once', () => {
  assert.equal(normalizeDnsName('WWW.Cilium.io'), 'www.cilium.io.');
  assert.equal(normalizeDnsName('cilium.io.'), 'cilium.io.');
  assert.equal(normalizeDnsName('.'), '.');
});
