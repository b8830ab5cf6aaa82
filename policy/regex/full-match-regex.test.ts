import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRegex, compileFullMatchRegex, fullMatch } from './index.js';

const matches = (source: string, input: string): boolean => fullMatch(compileFullMatchRegex(source), input);

test('a regex must match the whole input, not a substring', () => {
  assert.equal(matches('/public', '/public'), true);
  assert.equal(matches('/public', '/public?x=1'), false);
  assert.equal(matches('/public', 'x/public'), false);
  assert.equal(matches('/public.*', '/public?x=1'), true);
  assert.equal(matches('GET|POST', 'GET'), true);
  assert.equal(matches('GET|POST', 'GETX'), false);
});

test('an alternative that is a prefix of another still lets the longer one match fully', () => {
  assert.equal(matches('a|ab', 'ab'), true);
  assert.equal(matches('a|ab', 'abc'), false);
});

test('an empty regex matches only the empty string', () => {
  assert.equal(matches('', ''), true);
  assert.equal(matches('', 'a'), false);
});

test('multi-line flags and end anchors cannot turn a full match into a partial one', () => {
  assert.equal(matches('(?m)^a$', 'a\nb'), false);
  assert.equal(matches('a$', 'a\n'), false);
  assert.equal(matches('.*', 'a\nb'), false);
  assert.equal(matches('(?s).*', 'a\nb'), true);
});

test('syntax RE2 rejects is reported with RE2 wording', () => {
  for (const source of ['(?=a)', '(?!a)', '(?<=a)b', '(a)\\1', '\\k<n>', 'a++', '[', '(', 'a{1001}', '\\Z']) {
    const error = checkRegex(source);
    assert.ok(error !== undefined, `expected ${source} to be rejected`);
    assert.match(error, /error parsing regexp/);
  }
  assert.match(checkRegex('(?=a)') ?? '', /\(\?=/);
  assert.match(checkRegex('(a)\\1') ?? '', /\\1/);
});

test('syntax RE2 accepts is not reported', () => {
  const accepted = ['', '/v1/.*', 'GET', '[a-z]+\\.example\\.com', '(?i)get', '\\pL+', '[[:alpha:]]', '(?P<x>a)', '\\x{41}'];
  for (const source of accepted) {
    assert.equal(checkRegex(source), undefined, source);
  }
});

test('a regex that does not compile matches nothing, not everything', () => {
  const broken = compileFullMatchRegex('(?=.*)');
  assert.ok(broken.error !== undefined);
  assert.equal(fullMatch(broken, ''), false);
  assert.equal(fullMatch(broken, 'anything'), false);
});

test('escapes and unicode match code points, not UTF-16 units', () => {
  assert.equal(matches('foo\\.bar\\.com', 'foo.bar.com'), true);
  assert.equal(matches('foo\\.bar\\.com', 'fooXbar.com'), false);
  assert.equal(matches('foo.bar.com', 'fooXbar.com'), true);
  assert.equal(matches('\\x{41}\\d+', 'A42'), true);
  assert.equal(matches('caf.', 'café'), true);
  assert.equal(matches('.', '😀'), true);
  assert.equal(matches('..', '😀'), false);
  assert.equal(matches('\\p{Greek}+', 'αβγ'), true);
  assert.equal(matches('\\p{Greek}+', 'abc'), false);
});

test('matching is case-sensitive unless the regex says otherwise', () => {
  assert.equal(matches('GET', 'get'), false);
  assert.equal(matches('(?i)GET', 'get'), true);
});

test('a pattern that backtracks exponentially elsewhere runs in linear time', () => {
  const input = 'a'.repeat(30_000) + 'b';
  const started = performance.now();
  assert.equal(matches('(a+)+$', input), false);
  assert.equal(matches('(a|aa)+', input), false);
  assert.equal(matches('(a+)+b', input), true);
  assert.ok(performance.now() - started < 2_000, 'RE2 should not backtrack');
});

test('compiling the same source twice returns the cached regex', () => {
  assert.equal(compileFullMatchRegex('/cached/.*'), compileFullMatchRegex('/cached/.*'));
});

test('the cache stays bounded and still compiles evicted sources correctly', () => {
  const first = compileFullMatchRegex('evict-0');
  for (let i = 1; i <= 5000; i++) compileFullMatchRegex(`evict-${i}`);
  const again = compileFullMatchRegex('evict-0');
  assert.notEqual(again, first);
  assert.equal(fullMatch(again, 'evict-0'), true);
});
