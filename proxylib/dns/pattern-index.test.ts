// The pattern index decides exactly as checking every pattern with policy's matcher does: compared
// over Cilium-style patterns (`*` in any label, `**.` prefixes, bare `*`, no star at all) and names
// in every case, with escapes, the root and the empty name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFqdnMatcher } from '../../policy/index.js';
import { normalizeDnsName } from './compile-policy.js';
import { literalSuffix, PatternIndex } from './pattern-index.js';

const PATTERNS = ['*.bench.test', '**.deep.test', 'api-*.svc.test', 'a*b.c.test', 'api.*', '*', 'exact.test', 'Mixed.CASE.test', '*.*.two.test', 'x.*.mid.test', '**.*.star.test'];
const NAMES = [
  'host1.bench.test', 'HOST1.Bench.Test.', 'bench.test', 'a.b.bench.test', 'deep.test', 'a.deep.test', 'a.b.c.deep.test', 'api-1.svc.test', 'api-.svc.test', 'api.svc.test',
  'ab.c.test', 'axxb.c.test', 'a.b.c.test', 'api.com', 'api.co.uk', 'exact.test', 'EXACT.test.', 'mixed.case.test', 'q.r.two.test', 'q.two.test', 'x.y.mid.test', 'x.mid.test',
  'a.b.star.test', 'b.star.test', 'api\\.bench.test', 'host\\001.bench.test', '', '.', 'nothing.example',
];

test('the index allows exactly the names some pattern matches, one pattern at a time and all together', () => {
  const all = PATTERNS.map((pattern) => ({ pattern, matcher: compileFqdnMatcher({ matchPattern: pattern }) }));
  for (const subset of [...all.map((p) => [p]), all]) {
    const index = new PatternIndex(subset);
    for (const name of NAMES) {
      const expected = subset.some((p) => p.matcher.matches(name));
      const got = name !== '' && index.matches(normalizeDnsName(name), name);
      assert.equal(got, expected, `${subset.map((p) => p.pattern).join(',')} vs ${JSON.stringify(name)}`);
    }
  }
});

test('a pattern’s literal suffix is what follows its last starred label', () => {
  assert.equal(literalSuffix('*.bench.test'), 'bench.test.');
  assert.equal(literalSuffix('**.Deep.Test.'), 'deep.test.');
  assert.equal(literalSuffix('x.*.mid.test'), 'mid.test.');
  assert.equal(literalSuffix('api.*'), '');
  assert.equal(literalSuffix('*'), '');
  assert.equal(literalSuffix('exact.test'), 'exact.test.');
});
