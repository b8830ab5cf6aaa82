// Bounded fuzzing of what the matchers read from the wire: query strings, header values, peer
// addresses and SNI. Whatever the bytes, matching returns a boolean and never throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { envoy } from '../../xds/index.js';
import { compileCidrRange, compileHeaderMatcher, compileStringMatcher, parseInt64, parseQueryParameters, percentDecode } from './index.js';

const BUDGET_MS = 1500;
const MAX_ITERATIONS = 200_000;

const ALPHABET = ['%', '%2', '%zz', '%41', '&', '=', '?', '#', '+', ':', '.', '/', '\\', '\n', '\r', '\0', ' ', '\t', '-', '9', '0', 'a', 'F', 'ÿ', '€', '\ud800', '::', 'ffff', '255', '.1', '[', ']'];

function fuzzString(rand: () => number): string {
  let s = '';
  const n = Math.floor(rand() * 24);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  return s;
}

test('query parsing, percent-decoding, int64 parsing and matchers never throw on arbitrary input (bounded)', () => {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  const header = compileHeaderMatcher(
    create(envoy.HeaderMatcherSchema, { name: 'x', headerMatchSpecifier: { case: 'rangeMatch', value: create(envoy.Int64RangeSchema, { start: -5n, end: 5n }) } }),
    'h',
  );
  const regex = compileStringMatcher(
    create(envoy.StringMatcherSchema, { matchPattern: { case: 'safeRegex', value: create(envoy.RegexMatcherSchema, { regex: '[a-z]+(/.*)?' }) } }),
    's',
  );
  const folded = compileStringMatcher(create(envoy.StringMatcherSchema, { matchPattern: { case: 'contains', value: 'Ab' }, ignoreCase: true }), 's');
  const v4 = compileCidrRange(create(envoy.CidrRangeSchema, { addressPrefix: '10.0.0.0', prefixLen: 8 }), 'c');
  const v6 = compileCidrRange(create(envoy.CidrRangeSchema, { addressPrefix: 'fd00::', prefixLen: 8 }), 'c');
  assert.ok(header.ok && regex.ok && folded.ok && v4.ok && v6.ok);
  const started = Date.now();
  let n = 0;
  for (; n < MAX_ITERATIONS && Date.now() - started < BUDGET_MS; n++) {
    const s = fuzzString(rand);
    const params = parseQueryParameters(s);
    for (const [k, values] of params) assert.ok(typeof k === 'string' && values.length > 0);
    assert.equal(typeof percentDecode(s), 'string');
    const int = parseInt64(s);
    assert.ok(int === undefined || typeof int === 'bigint');
    assert.equal(typeof header.value(() => s), 'boolean');
    assert.equal(typeof regex.value(s), 'boolean');
    assert.equal(typeof folded.value(s), 'boolean');
    assert.equal(typeof v4.value(s), 'boolean');
    assert.equal(typeof v6.value(s), 'boolean');
  }
  assert.ok(n >= 1000, `only ${n} iterations ran`);
});
