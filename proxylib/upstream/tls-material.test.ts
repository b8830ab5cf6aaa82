import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { matchesAnySan, parseSubjectAltNames, subjectToRfc2253 } from './tls-material.js';

describe('certificate names', () => {
  test("Node's subjectaltname string is split by type, with JSON-quoted values unquoted", () => {
    const sans = parseSubjectAltNames('DNS:a.example.com, DNS:"b, c.example.com", URI:spiffe://td/ns/x/sa/y, IP Address:10.0.0.1, email:x@y.z');
    assert.deepEqual(sans, { dns: ['a.example.com', 'b, c.example.com'], uri: ['spiffe://td/ns/x/sa/y'], ip: ['10.0.0.1'], email: ['x@y.z'] });
    assert.deepEqual(parseSubjectAltNames(undefined), { dns: [], uri: [], ip: [], email: [] });
  });

  test('a SAN matcher matches when any SAN of its type matches', () => {
    const sans = parseSubjectAltNames('DNS:a.example.com, URI:spiffe://td/ns/x/sa/y');
    assert.equal(matchesAnySan(sans, (s) => s.type === 'URI' && s.value.startsWith('spiffe://td/')), true);
    assert.equal(matchesAnySan(sans, (s) => s.type === 'DNS' && s.value === 'b.example.com'), false);
  });

  test('subjects are reported in RFC 2253 order, most specific first, as Envoy does', () => {
    assert.equal(subjectToRfc2253('C=US\nO=meshd\nCN=client'), 'CN=client,O=meshd,C=US');
  });
});
