import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpRule } from '../model.js';
import type { HttpRequestFacts } from './index.js';
import { matchHttpRule, matchHttpRules } from './index.js';

const position = { file: 'test.yaml', line: 1, col: 1 };
const rule = (fields: Partial<HttpRule> = {}): HttpRule => ({ headers: [], headerMatches: [], position, ...fields });
const request = (fields: Partial<HttpRequestFacts> = {}): HttpRequestFacts => ({
  method: 'GET',
  path: '/',
  headers: [],
  ...fields,
});

// The Star Wars demo: the deathstar lets tiefighters land but not reach the exhaust port.
const deathstar = [rule({ method: 'POST', path: '/v1/request-landing' }), rule({ method: 'GET', path: '/v1/.*' })];

test('the Star Wars policy allows landing requests and denies the exhaust port', () => {
  assert.deepEqual(matchHttpRules(deathstar, request({ method: 'POST', path: '/v1/request-landing' })), {
    matched: true,
    index: 0,
  });
  assert.deepEqual(matchHttpRules(deathstar, request({ method: 'GET', path: '/v1/request-landing' })), {
    matched: true,
    index: 1,
  });
  assert.deepEqual(matchHttpRules(deathstar, request({ method: 'PUT', path: '/v1/exhaust-port' })), {
    matched: false,
  });
  assert.deepEqual(matchHttpRules([deathstar[0]!], request({ method: 'GET', path: '/v1/request-landing' })), {
    matched: false,
  });
});

test('an empty rule list allows every request without naming a rule', () => {
  assert.deepEqual(matchHttpRules([], request({ method: 'DELETE', path: '/anything' })), { matched: true });
});

test('an empty rule matches every request', () => {
  assert.equal(matchHttpRule(rule(), request({ method: 'PATCH', path: '/x?y=1', host: 'h' })), true);
  assert.equal(matchHttpRule(rule({ method: '', path: '' }), request({ method: 'PATCH' })), true);
});

test('method and path must match the whole value, query string included', () => {
  assert.equal(matchHttpRule(rule({ path: '/public' }), request({ path: '/public' })), true);
  assert.equal(matchHttpRule(rule({ path: '/public' }), request({ path: '/public?x=1' })), false);
  assert.equal(matchHttpRule(rule({ path: '/public.*' }), request({ path: '/public?x=1' })), true);
  assert.equal(matchHttpRule(rule({ path: '/v1' }), request({ path: '/v1/x' })), false);
  assert.equal(matchHttpRule(rule({ method: 'GET' }), request({ method: 'GETS' })), false);
  assert.equal(matchHttpRule(rule({ method: 'GET|HEAD' }), request({ method: 'HEAD' })), true);
  assert.equal(matchHttpRule(rule({ method: 'GET' }), request({ method: 'get' })), false);
});

test('fields of one rule are all required', () => {
  const r = rule({ method: 'GET', path: '/a', headers: [{ name: 'X-Ok' }] });
  assert.equal(matchHttpRule(r, request({ path: '/a', headers: [['X-Ok', '1']] })), true);
  assert.equal(matchHttpRule(r, request({ path: '/a' })), false);
  assert.equal(matchHttpRule(r, request({ method: 'POST', path: '/a', headers: [['X-Ok', '1']] })), false);
});

test('an unescaped dot in a host regex matches any character, an escaped one only a dot', () => {
  assert.equal(matchHttpRule(rule({ host: 'foo.bar.com' }), request({ host: 'fooXbar.com' })), true);
  assert.equal(matchHttpRule(rule({ host: 'foo\\.bar\\.com' }), request({ host: 'fooXbar.com' })), false);
  assert.equal(matchHttpRule(rule({ host: 'foo\\.bar\\.com' }), request({ host: 'foo.bar.com' })), true);
  assert.equal(matchHttpRule(rule({ host: '.*\\.bar\\.com' }), request({ host: 'api.bar.com' })), true);
});

test('the host regex sees the authority as sent, port included', () => {
  assert.equal(matchHttpRule(rule({ host: 'api\\.com' }), request({ host: 'api.com:8080' })), false);
  assert.equal(matchHttpRule(rule({ host: 'api\\.com(:[0-9]+)?' }), request({ host: 'api.com:8080' })), true);
});

test('without an explicit host the Host header is used, and a request with neither fails a host rule', () => {
  assert.equal(matchHttpRule(rule({ host: 'api\\.com' }), request({ headers: [['Host', 'api.com']] })), true);
  assert.equal(matchHttpRule(rule({ host: 'api\\.com' }), request()), false);
  const both = request({ host: 'api.com', headers: [['Host', 'x']] });
  assert.equal(matchHttpRule(rule({ host: 'api\\.com' }), both), true);
});

test('a header without a value only needs to be present, with any value', () => {
  const r = rule({ headers: [{ name: 'X-My-Header' }] });
  assert.equal(matchHttpRule(r, request({ headers: [['X-My-Header', 'anything']] })), true);
  assert.equal(matchHttpRule(r, request({ headers: [['X-My-Header', '']] })), true);
  assert.equal(matchHttpRule(r, request({ headers: [['X-Other', 'x']] })), false);
});

test('a header with a value needs exactly that value, while its name is case-insensitive', () => {
  const r = rule({ headers: [{ name: 'X-My-Header', value: 'true' }] });
  assert.equal(matchHttpRule(r, request({ headers: [['x-my-header', 'true']] })), true);
  assert.equal(matchHttpRule(r, request({ headers: [['X-MY-HEADER', 'true']] })), true);
  assert.equal(matchHttpRule(r, request({ headers: [['X-My-Header', 'True']] })), false);
  assert.equal(matchHttpRule(r, request({ headers: [['X-My-Header', 'true ']] })), false);
  assert.equal(matchHttpRule(r, request({ headers: [['X-My-Header', 'truest']] })), false);
  assert.equal(matchHttpRule(r, request()), false);
});

test('repeated headers are compared as one comma-joined value, as Envoy does', () => {
  const r = rule({ headers: [{ name: 'X-Role', value: 'a,b' }] });
  assert.equal(matchHttpRule(r, request({ headers: [['X-Role', 'a'], ['x-role', 'b']] })), true);
  const first = rule({ headers: [{ name: 'X-Role', value: 'a' }] });
  assert.equal(matchHttpRule(first, request({ headers: [['X-Role', 'a'], ['X-Role', 'b']] })), false);
});

test('pseudo-headers in header rules read the request line', () => {
  const r = rule({ headers: [{ name: ':method', value: 'GET' }, { name: ':authority', value: 'a.com' }] });
  assert.equal(matchHttpRule(r, request({ host: 'a.com' })), true);
  assert.equal(matchHttpRule(r, request({ method: 'POST', host: 'a.com' })), false);
});

test('a headerMatch without a mismatch action is a hard requirement', () => {
  const exact = rule({ headerMatches: [{ name: 'Authorization', value: 'Bearer 123' }] });
  assert.equal(matchHttpRule(exact, request({ headers: [['authorization', 'Bearer 123']] })), true);
  assert.equal(matchHttpRule(exact, request({ headers: [['authorization', 'Bearer 456']] })), false);
  assert.equal(matchHttpRule(exact, request()), false);
  const presence = rule({ headerMatches: [{ name: 'X-Trace', value: '' }] });
  assert.equal(matchHttpRule(presence, request({ headers: [['X-Trace', 'abc']] })), true);
  assert.equal(matchHttpRule(presence, request()), false);
});

test('a headerMatch with a mismatch action rewrites rather than denies, so it never blocks', () => {
  for (const mismatch of ['LOG', 'ADD', 'DELETE', 'REPLACE'] as const) {
    const r = rule({ path: '/x', headerMatches: [{ name: 'Authorization', value: 'Bearer 123', mismatch }] });
    assert.equal(matchHttpRule(r, request({ path: '/x' })), true, mismatch);
    assert.equal(matchHttpRule(r, request({ path: '/x', headers: [['Authorization', 'other']] })), true, mismatch);
    assert.equal(matchHttpRule(r, request({ path: '/y' })), false, mismatch);
  }
});

test('a secret headerMatch never matches offline unless an inline value stands in for it', () => {
  const secret = { namespace: 'default', name: 'token' };
  const bare = rule({ headerMatches: [{ name: 'Authorization', secret }] });
  assert.equal(matchHttpRule(bare, request({ headers: [['Authorization', 'Bearer 123']] })), false);
  const fallback = rule({ headerMatches: [{ name: 'Authorization', secret, value: 'Bearer 123' }] });
  assert.equal(matchHttpRule(fallback, request({ headers: [['Authorization', 'Bearer 123']] })), true);
  const rewrite = rule({ headerMatches: [{ name: 'Authorization', secret, mismatch: 'REPLACE' }] });
  assert.equal(matchHttpRule(rewrite, request()), true);
});

test('a rule with a regex RE2 rejects matches no request', () => {
  assert.equal(matchHttpRule(rule({ path: '(?=/admin).*' }), request({ path: '/admin' })), false);
  assert.deepEqual(matchHttpRules([rule({ path: '/a(?!b)' }), rule({ path: '/ok' })], request({ path: '/ok' })), {
    matched: true,
    index: 1,
  });
});
