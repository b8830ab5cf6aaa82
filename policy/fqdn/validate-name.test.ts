import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FQDN_LENGTH, validateMatchName, validateMatchPattern, validateServerName } from './index.js';

test('matchName accepts DNS label characters with optional trailing dot', () => {
  for (const name of ['cilium.io', 'cilium.io.', 'a', 'kafka_broker-1.svc.cluster.local', 'UPPER.case']) {
    assert.equal(validateMatchName(name), undefined, name);
  }
});

test('matchName rejects wildcards, empty labels, spaces, other characters and the empty string', () => {
  for (const name of ['', '*.cilium.io', '.cilium.io', 'a..b', '.', 'a b', 'café.com', 'a/b', 'a:80']) {
    assert.ok(validateMatchName(name) !== undefined, name);
  }
});

test('matchPattern additionally accepts stars anywhere in a label', () => {
  for (const pattern of ['*', '**', '***.', '*.cilium.io', '**.cilium.io', 'sub*.cilium.io', 'part*ial.com.']) {
    assert.equal(validateMatchPattern(pattern), undefined, pattern);
  }
  for (const pattern of ['', '.', '.*', 'a..*', 'a[b]', 'a+b', '*,b']) {
    assert.ok(validateMatchPattern(pattern) !== undefined, pattern);
  }
});

test(`names and patterns longer than ${MAX_FQDN_LENGTH} characters are rejected`, () => {
  const longest = `${'a'.repeat(63)}.`.repeat(4).slice(0, MAX_FQDN_LENGTH);
  assert.equal(validateMatchName(longest), undefined);
  assert.match(validateMatchName(`${longest}a`) ?? '', /at most 255/);
  assert.match(validateMatchPattern(`*${longest}`) ?? '', /at most 255/);
});

test('a long name with one bad character at the end is rejected quickly', () => {
  const started = performance.now();
  assert.ok(validateMatchName(`${'a'.repeat(200)}!`) !== undefined);
  assert.ok(validateServerName(`${'a'.repeat(5000)}!`) !== undefined);
  assert.ok(performance.now() - started < 1_000);
});

test('serverNames accept SNI names with wildcards and reject anything else', () => {
  for (const name of ['api.example.com', '*.example.com', 'example.com.']) {
    assert.equal(validateServerName(name), undefined, name);
  }
  for (const name of ['', '.example.com', 'a..b', 'api.example.com:443', 'exa mple.com']) {
    assert.ok(validateServerName(name) !== undefined, name);
  }
});
