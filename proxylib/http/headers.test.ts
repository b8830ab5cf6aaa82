import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOP_BY_HOP_HEADERS, firstHeaderValue, isHopByHopHeader, isValidHeaderName, isValidHeaderValue, isValidMethod, listTokens } from './index.js';

test('header names are RFC 9110 tokens', () => {
  for (const ok of ['host', 'X-Request-Id', "!#$%&'*+-.^_`|~09azAZ"]) assert.equal(isValidHeaderName(ok), true, ok);
  for (const bad of ['', 'a b', 'a:b', 'a\u0000', 'caf\u00e9', '(x)', 'a\r\nb', 'a\u0100']) assert.equal(isValidHeaderName(bad), false, JSON.stringify(bad));
});

test('header values allow SP, HTAB inside, VCHAR and obs-text, and nothing that breaks a line', () => {
  for (const ok of ['', 'a b\tc', 'caf\u00e9', '"quoted", list']) assert.equal(isValidHeaderValue(ok), true, JSON.stringify(ok));
  for (const bad of [' leading', 'trailing\t', 'a\r\nb: c', 'a\nb', 'a\rb', 'a\u0000b', 'a\u007fb', 'a\u000bb', 'a\u0100b']) {
    assert.equal(isValidHeaderValue(bad), false, JSON.stringify(bad));
  }
});

test('methods are tokens', () => {
  assert.equal(isValidMethod('GET'), true);
  assert.equal(isValidMethod('G T'), false);
});

test("hop-by-hop headers are Envoy's list, and te: trailers is end-to-end", () => {
  assert.deepEqual([...HOP_BY_HOP_HEADERS].sort(), ['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);
  assert.equal(isHopByHopHeader('te', 'trailers'), false);
  assert.equal(isHopByHopHeader('te', ' Trailers '), false);
  assert.equal(isHopByHopHeader('te', 'gzip'), true);
  assert.equal(isHopByHopHeader('connection', 'close'), true);
  assert.equal(isHopByHopHeader('proxy-authorization', 'x'), false);
});

test('list headers split into trimmed lower-case tokens', () => {
  assert.deepEqual(listTokens(' Keep-Alive , ,Upgrade'), ['keep-alive', 'upgrade']);
});

test('a header lookup returns the first field of that name, or undefined when there is none', () => {
  const headers: Array<[string, string]> = [['x-a', '1'], ['content-type', 'application/grpc'], ['x-a', '2']];
  assert.equal(firstHeaderValue(headers, 'x-a'), '1');
  assert.equal(firstHeaderValue(headers, 'content-type'), 'application/grpc');
  assert.equal(firstHeaderValue(headers, 'x-b'), undefined);
});
