// Envoy's matcher semantics, construct by construct, with the corners Envoy's own code and tests
// pin down (header_utility.cc, StringMatcherImpl, CidrRange, QueryParamsMulti).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { RE2JS } from 're2js';
import { envoy } from '../../xds/index.js';
import type { Compiled } from '../config/types.js';
import {
  compileCidrRange,
  compileFullMatchRegex,
  compileHeaderMatcher,
  compileHeaderMatcherWithName,
  compileQueryParameterMatcher,
  compileStringMatcher,
  parseInt64,
  parseQueryParameters,
  type HeaderLookup,
} from './index.js';

function value<T>(c: Compiled<T>): T {
  if (!c.ok) assert.fail(`unexpected problems: ${c.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return c.value;
}

function problemPaths<T>(c: Compiled<T>): string[] {
  assert.equal(c.ok, false, 'expected problems');
  return c.ok ? [] : c.problems.map((p) => p.path);
}

function sm(matchPattern: envoy.StringMatcher['matchPattern'], ignoreCase = false): envoy.StringMatcher {
  return create(envoy.StringMatcherSchema, { matchPattern, ignoreCase });
}

function re(regex: string): envoy.RegexMatcher {
  return create(envoy.RegexMatcherSchema, { regex });
}

describe('string matcher', () => {
  test('exact, prefix, suffix and contains compare case-sensitively by default', () => {
    const exact = value(compileStringMatcher(sm({ case: 'exact', value: 'Abc' }), 'm'));
    assert.equal(exact('Abc'), true);
    assert.equal(exact('abc'), false);
    assert.equal(exact('Abcd'), false);
    const prefix = value(compileStringMatcher(sm({ case: 'prefix', value: '/api' }), 'm'));
    assert.equal(prefix('/api/x'), true);
    assert.equal(prefix('/API/x'), false);
    const suffix = value(compileStringMatcher(sm({ case: 'suffix', value: '.json' }), 'm'));
    assert.equal(suffix('a.json'), true);
    assert.equal(suffix('a.JSON'), false);
    const contains = value(compileStringMatcher(sm({ case: 'contains', value: 'min' }), 'm'));
    assert.equal(contains('/admin/'), true);
    assert.equal(contains('/ADMIN/'), false);
  });

  test('ignore_case folds ASCII letters only, as absl EqualsIgnoreCase does', () => {
    const exact = value(compileStringMatcher(sm({ case: 'exact', value: 'GeT' }, true), 'm'));
    assert.equal(exact('get'), true);
    assert.equal(exact('GET'), true);
    assert.equal(exact('GETS'), false);
    const accented = value(compileStringMatcher(sm({ case: 'exact', value: 'é' }, true), 'm'));
    assert.equal(accented('É'), false, 'non-ASCII letters are not case-folded');
    const prefix = value(compileStringMatcher(sm({ case: 'prefix', value: '/Api' }, true), 'm'));
    assert.equal(prefix('/aPI/v1'), true);
    assert.equal(prefix('/ap'), false);
    const suffix = value(compileStringMatcher(sm({ case: 'suffix', value: '.Json' }, true), 'm'));
    assert.equal(suffix('x.JSON'), true);
    assert.equal(suffix('JSON'), false);
    const contains = value(compileStringMatcher(sm({ case: 'contains', value: 'AdM' }, true), 'm'));
    assert.equal(contains('/xADMINx'), true);
    assert.equal(contains('/xadx'), false);
  });

  test('exact with an empty value matches only the empty string', () => {
    const exact = value(compileStringMatcher(sm({ case: 'exact', value: '' }), 'm'));
    assert.equal(exact(''), true);
    assert.equal(exact('x'), false);
  });

  test('safe_regex is an RE2 full match, never a substring match', () => {
    const m = value(compileStringMatcher(sm({ case: 'safeRegex', value: re('/v1/status(/.*)?') }), 'm'));
    assert.equal(m('/v1/status'), true);
    assert.equal(m('/v1/status/x'), true);
    assert.equal(m('/v1/statusx'), false);
    assert.equal(m('x/v1/status'), false);
    const alt = value(compileStringMatcher(sm({ case: 'safeRegex', value: re('GET|HEAD') }), 'm'));
    assert.equal(alt('GET'), true);
    assert.equal(alt('HEAD'), true);
    assert.equal(alt('GETHEAD'), false);
  });

  test('the string shortcuts for common regex shapes give exactly RE2 full-match answers', () => {
    const patterns = [
      'GET',
      'GET|HEAD',
      'GET|HEAD|',
      'POST|PUT|PATCH',
      '/public/.*',
      '/a b/.*',
      '/v1/status(/.*)?',
      '/v1/status(/x.*)?',
      'api\\.example\\.com',
      'api\\.example\\.com(:8080)?',
      '/svc9/v[0-9]+/.*',
      '/items/[0-9]+',
      'ab*c',
      'ab{2}c',
      'a\\.b?c',
      'a\\.*',
      'a\\\\.*',
      'x(\\.*)?',
      '(?i)get',
      '(?s)/a/.*',
      '/a/.*|/b',
      '\\Q.*\\E',
      '',
      '.*',
      'x-y_z:1,2=3@%~!',
    ];
    const fragments = ['GET', 'HEAD', 'get', 'POST', 'PUT', 'PATCH', '/public/', '/a b/', '/v1/status', '/x', '/', 'api.example.com', 'apixexample.com', ':8080', ':9', '/svc9/v', '12', 'a', 'b', 'c', 'x', '.', '\n', '\\', '*', '|', '', 'ab', 'bb', '/items/', '/b', '.*', 'x-y_z:1,2=3@%~!'];
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const inputs = new Set<string>(fragments);
    for (let i = 0; i < 3000; i++) {
      let s = '';
      const parts = 1 + Math.floor(rand() * 4);
      for (let j = 0; j < parts; j++) s += fragments[Math.floor(rand() * fragments.length)]!;
      inputs.add(s);
    }
    let compared = 0;
    for (const p of patterns) {
      const fast = compileFullMatchRegex(p);
      assert.equal(typeof fast, 'function', p);
      const re2 = RE2JS.compile(p);
      for (const input of inputs) {
        compared++;
        assert.equal((fast as (s: string) => boolean)(input), re2.testExact(input), `${JSON.stringify(p)} on ${JSON.stringify(input)}`);
      }
    }
    assert.ok(compared > 50000);
  });

  test('problems name the field: empty prefix, regex RE2 rejects, ignore_case with safe_regex, custom, no pattern, max_program_size', () => {
    assert.deepEqual(problemPaths(compileStringMatcher(sm({ case: 'prefix', value: '' }), 'x.m')), ['x.m.prefix']);
    assert.deepEqual(problemPaths(compileStringMatcher(sm({ case: 'suffix', value: '' }), 'x.m')), ['x.m.suffix']);
    assert.deepEqual(problemPaths(compileStringMatcher(sm({ case: 'contains', value: '' }), 'x.m')), ['x.m.contains']);
    const lookahead = compileStringMatcher(sm({ case: 'safeRegex', value: re('(?=a)a') }), 'x.m');
    assert.deepEqual(problemPaths(lookahead), ['x.m.safe_regex.regex']);
    assert.match(lookahead.ok ? '' : lookahead.problems[0]!.message, /RE2 rejects/);
    // RE2's own reason is passed on, quoting the construct it refuses.
    assert.match(lookahead.ok ? '' : lookahead.problems[0]!.message, /unsupported Perl syntax: `\(\?=`/);
    assert.deepEqual(problemPaths(compileStringMatcher(sm({ case: 'safeRegex', value: re('') }), 'x.m')), ['x.m.safe_regex.regex']);
    assert.deepEqual(problemPaths(compileStringMatcher(sm({ case: 'safeRegex', value: re('a') }, true), 'x.m')), ['x.m.ignore_case']);
    const custom = sm({ case: 'custom', value: create(envoy.TypedExtensionConfigSchema, { name: 'x' }) as never });
    assert.deepEqual(problemPaths(compileStringMatcher(custom, 'x.m')), ['x.m.custom']);
    assert.deepEqual(problemPaths(compileStringMatcher(sm({ case: undefined }), 'x.m')), ['x.m']);
    const sized = create(envoy.RegexMatcherSchema, {
      regex: 'a',
      engineType: { case: 'googleRe2', value: create(envoy.RegexMatcher_GoogleRE2Schema, { maxProgramSize: 100 }) },
    });
    assert.deepEqual(problemPaths(compileStringMatcher(sm({ case: 'safeRegex', value: sized }), 'x.m')), ['x.m.safe_regex.google_re2.max_program_size']);
  });

  test('a google_re2 engine without max_program_size is accepted', () => {
    const plain = create(envoy.RegexMatcherSchema, { regex: 'a+', engineType: { case: 'googleRe2', value: create(envoy.RegexMatcher_GoogleRE2Schema, {}) } });
    const m = value(compileStringMatcher(sm({ case: 'safeRegex', value: plain }), 'm'));
    assert.equal(m('aaa'), true);
  });
});

function hm(init: { name: string; spec?: envoy.HeaderMatcher['headerMatchSpecifier']; invert?: boolean; missingAsEmpty?: boolean }): envoy.HeaderMatcher {
  return create(envoy.HeaderMatcherSchema, {
    name: init.name,
    headerMatchSpecifier: init.spec ?? { case: undefined },
    invertMatch: init.invert ?? false,
    treatMissingHeaderAsEmpty: init.missingAsEmpty ?? false,
  });
}

function headers(h: Record<string, string>): HeaderLookup {
  return (name) => h[name];
}

const NONE = headers({});

describe('header matcher', () => {
  test('an absent header matches only present_match false, or present_match true inverted (Envoy matchHeaders)', () => {
    const cases: Array<[envoy.HeaderMatcher['headerMatchSpecifier'], boolean, boolean]> = [
      // spec, invert, expected when the header is absent
      [{ case: 'presentMatch', value: true }, false, false],
      [{ case: 'presentMatch', value: false }, false, true],
      [{ case: 'presentMatch', value: true }, true, true],
      [{ case: 'presentMatch', value: false }, true, false],
      [{ case: 'exactMatch', value: 'a' }, false, false],
      [{ case: 'exactMatch', value: 'a' }, true, false],
      [{ case: 'prefixMatch', value: 'a' }, true, false],
      [{ case: 'safeRegexMatch', value: re('.*') }, false, false],
      [{ case: 'safeRegexMatch', value: re('.*') }, true, false],
      [{ case: 'stringMatch', value: sm({ case: 'exact', value: 'a' }) }, true, false],
      [{ case: undefined }, false, false],
      [{ case: undefined }, true, true],
    ];
    for (const [spec, invert, expected] of cases) {
      const m = value(compileHeaderMatcher(hm({ name: 'x-a', spec, invert }), 'h'));
      assert.equal(m(NONE), expected, `${String(spec.case)}=${String(spec.value)} invert=${invert}`);
    }
  });

  test('a present header: the value test, then invert_match flips it', () => {
    const present = headers({ 'x-a': 'v1' });
    const table: Array<[envoy.HeaderMatcher['headerMatchSpecifier'], boolean]> = [
      [{ case: 'presentMatch', value: true }, true],
      [{ case: 'presentMatch', value: false }, false],
      [{ case: 'exactMatch', value: 'v1' }, true],
      [{ case: 'exactMatch', value: 'v2' }, false],
      [{ case: 'prefixMatch', value: 'v' }, true],
      [{ case: 'suffixMatch', value: '1' }, true],
      [{ case: 'containsMatch', value: 'x' }, false],
      [{ case: 'safeRegexMatch', value: re('v[0-9]') }, true],
      [{ case: 'safeRegexMatch', value: re('v') }, false],
      [{ case: 'stringMatch', value: sm({ case: 'exact', value: 'V1' }, true) }, true],
      [{ case: undefined }, true],
    ];
    for (const [spec, expected] of table) {
      assert.equal(value(compileHeaderMatcher(hm({ name: 'x-a', spec }), 'h'))(present), expected, `${String(spec.case)}`);
      assert.equal(value(compileHeaderMatcher(hm({ name: 'x-a', spec, invert: true }), 'h'))(present), !expected, `${String(spec.case)} inverted`);
    }
  });

  test('treat_missing_header_as_empty matches an absent header as the empty value', () => {
    const emptyOk = value(compileHeaderMatcher(hm({ name: 'x-a', spec: { case: 'safeRegexMatch', value: re('a*') }, missingAsEmpty: true }), 'h'));
    assert.equal(emptyOk(NONE), true);
    const needsA = value(compileHeaderMatcher(hm({ name: 'x-a', spec: { case: 'stringMatch', value: sm({ case: 'exact', value: 'a' }) }, missingAsEmpty: true, invert: true }), 'h'));
    assert.equal(needsA(NONE), true, "'' is not 'a', inverted");
    const presence = value(compileHeaderMatcher(hm({ name: 'x-a', spec: { case: 'presentMatch', value: true }, missingAsEmpty: true }), 'h'));
    assert.equal(presence(NONE), true, 'treated as present with an empty value');
  });

  test('the deprecated exact_match "" matches any value of a present header', () => {
    const m = value(compileHeaderMatcher(hm({ name: 'x-a', spec: { case: 'exactMatch', value: '' } }), 'h'));
    assert.equal(m(headers({ 'x-a': 'anything' })), true);
    assert.equal(m(NONE), false);
  });

  test('range_match is [start, end) over a signed decimal with surrounding whitespace allowed', () => {
    const m = value(compileHeaderMatcher(hm({ name: 'x-n', spec: { case: 'rangeMatch', value: create(envoy.Int64RangeSchema, { start: -10n, end: 10n }) } }), 'h'));
    const at = (v: string) => m(headers({ 'x-n': v }));
    assert.equal(at('-10'), true);
    assert.equal(at('9'), true);
    assert.equal(at('10'), false);
    assert.equal(at(' 5 '), true);
    assert.equal(at('+5'), true);
    assert.equal(at('5x'), false);
    assert.equal(at(''), false);
    assert.equal(at('0x5'), false);
    assert.equal(at('99999999999999999999'), false, 'overflow is not a number');
    assert.equal(parseInt64('9223372036854775807'), 9223372036854775807n);
    assert.equal(parseInt64('9223372036854775808'), undefined);
    assert.equal(parseInt64('-9223372036854775808'), -9223372036854775808n);
  });

  test('values are wire bytes (latin1 chars): non-ASCII patterns match their UTF-8 bytes, regexes see UTF-8 text, as Envoy', () => {
    const cafe = headers({ 'x-a': Buffer.from('café', 'utf8').toString('latin1') });
    const exact = (spec: envoy.HeaderMatcher['headerMatchSpecifier']) => value(compileHeaderMatcher(hm({ name: 'x-a', spec }), 'h'))(cafe);
    assert.equal(exact({ case: 'exactMatch', value: 'café' }), true);
    assert.equal(exact({ case: 'suffixMatch', value: 'é' }), true);
    assert.equal(exact({ case: 'stringMatch', value: sm({ case: 'contains', value: 'fé' }) }), true);
    assert.equal(exact({ case: 'stringMatch', value: sm({ case: 'exact', value: 'CAFÉ' }, true) }), false, 'ignore_case folds ASCII only');
    assert.equal(exact({ case: 'stringMatch', value: sm({ case: 'exact', value: 'CAFé' }, true) }), true);
    assert.equal(exact({ case: 'safeRegexMatch', value: re('caf.') }), true, '. is one UTF-8 character');
    assert.equal(exact({ case: 'safeRegexMatch', value: re('caf..') }), false);
    assert.equal(exact({ case: 'safeRegexMatch', value: re('café') }), true);
    assert.equal(exact({ case: 'stringMatch', value: sm({ case: 'safeRegex', value: re('\\p{L}+') }) }), true);
    const qp = value(compileQueryParameterMatcher(create(envoy.QueryParameterMatcherSchema, { name: 'q', queryParameterMatchSpecifier: { case: 'stringMatch', value: sm({ case: 'exact', value: 'é' }) } }), 'q'));
    assert.equal(qp(parseQueryParameters('/?q=%C3%A9')), true);
    const text = value(compileStringMatcher(sm({ case: 'exact', value: 'café' }), 'm'));
    assert.equal(text('café'), true, "'text' input (certificate names) compares strings as they are");
  });

  test('names are case-insensitive and host is :authority', () => {
    const named = value(compileHeaderMatcherWithName(hm({ name: 'X-Token', spec: { case: 'exactMatch', value: 't' } }), 'h'));
    assert.equal(named.name, 'x-token');
    assert.equal(named.matches(headers({ 'x-token': 't' })), true);
    const host = value(compileHeaderMatcherWithName(hm({ name: 'Host', spec: { case: 'exactMatch', value: 'a.example' } }), 'h'));
    assert.equal(host.name, ':authority');
    assert.equal(host.matches(headers({ ':authority': 'a.example' })), true);
  });

  test('problems: empty name, empty prefix/suffix/contains, bad regexes, with paths', () => {
    assert.deepEqual(problemPaths(compileHeaderMatcher(hm({ name: '' }), 'p.header')), ['p.header.name']);
    assert.deepEqual(problemPaths(compileHeaderMatcher(hm({ name: 'a', spec: { case: 'prefixMatch', value: '' } }), 'p.header')), ['p.header.prefix_match']);
    assert.deepEqual(problemPaths(compileHeaderMatcher(hm({ name: 'a', spec: { case: 'suffixMatch', value: '' } }), 'p.header')), ['p.header.suffix_match']);
    assert.deepEqual(problemPaths(compileHeaderMatcher(hm({ name: 'a', spec: { case: 'containsMatch', value: '' } }), 'p.header')), ['p.header.contains_match']);
    assert.deepEqual(problemPaths(compileHeaderMatcher(hm({ name: 'a', spec: { case: 'safeRegexMatch', value: re('(a') } }), 'p.header')), ['p.header.safe_regex_match.regex']);
    assert.deepEqual(
      problemPaths(compileHeaderMatcher(hm({ name: 'a', spec: { case: 'stringMatch', value: sm({ case: 'safeRegex', value: re('\\1') }) } }), 'p.header')),
      ['p.header.string_match.safe_regex.regex'],
    );
  });
});

function cidr(addressPrefix: string, prefixLen?: number): envoy.CidrRange {
  return create(envoy.CidrRangeSchema, prefixLen === undefined ? { addressPrefix } : { addressPrefix, prefixLen });
}

describe('CIDR matcher', () => {
  test('IPv4 prefixes of every shape', () => {
    const eight = value(compileCidrRange(cidr('10.0.0.0', 8), 'r'));
    assert.equal(eight('10.255.1.2'), true);
    assert.equal(eight('11.0.0.0'), false);
    assert.equal(eight('9.255.255.255'), false);
    const host = value(compileCidrRange(cidr('192.0.2.7', 32), 'r'));
    assert.equal(host('192.0.2.7'), true);
    assert.equal(host('192.0.2.8'), false);
    const hostBits = value(compileCidrRange(cidr('10.1.2.3', 16), 'r'));
    assert.equal(hostBits('10.1.200.1'), true, 'host bits of the prefix are ignored');
    const all = value(compileCidrRange(cidr('0.0.0.0', 0), 'r'));
    assert.equal(all('255.255.255.255'), true);
    assert.equal(all('::1'), false, 'a v4 range never matches an IPv6 address');
    const unsetLength = value(compileCidrRange(cidr('10.0.0.0'), 'r'));
    assert.equal(unsetLength('203.0.113.9'), true, 'unset prefix_len is 0');
    const high = value(compileCidrRange(cidr('128.0.0.0', 1), 'r'));
    assert.equal(high('200.1.1.1'), true);
    assert.equal(high('127.255.255.255'), false);
  });

  test('IPv6 prefixes, and IPv4-mapped peers matched as IPv4', () => {
    const doc = value(compileCidrRange(cidr('2001:db8::', 32), 'r'));
    assert.equal(doc('2001:db8:1::5'), true);
    assert.equal(doc('2001:db9::5'), false);
    assert.equal(doc('10.0.0.1'), false);
    const v4 = value(compileCidrRange(cidr('10.0.0.0', 8), 'r'));
    assert.equal(v4('::ffff:10.1.2.3'), true, 'a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d');
    assert.equal(v4('::ffff:a01:203'), true);
    assert.equal(v4('::ffff:11.1.2.3'), false);
    const mappedRange = value(compileCidrRange(cidr('::ffff:10.0.0.0', 104), 'r'));
    assert.equal(mappedRange('10.1.2.3'), false, 'an IPv4-mapped range stays IPv6, as in Envoy');
    const all6 = value(compileCidrRange(cidr('::', 0), 'r'));
    assert.equal(all6('fe80::1'), true);
    assert.equal(all6('1.2.3.4'), false);
  });

  test('the parsed-address memo never mixes addresses up, whatever the order of lookups', () => {
    const v4 = value(compileCidrRange(cidr('10.0.0.0', 8), 'r'));
    const v6 = value(compileCidrRange(cidr('fd00::', 8), 'r'));
    const addresses: Array<[string, boolean, boolean]> = [
      ['10.1.1.1', true, false],
      ['fd00::1', false, true],
      ['11.1.1.1', false, false],
      ['::ffff:10.9.9.9', true, false],
      ['fe80::1', false, false],
    ];
    for (let i = 0; i < 200; i++) {
      const [address, in4, in6] = addresses[(i * 7 + (i >> 2)) % addresses.length]!;
      assert.equal(v4(address), in4, address);
      assert.equal(v6(address), in6, address);
    }
  });

  test('addresses that are not IPs never match', () => {
    const all = value(compileCidrRange(cidr('0.0.0.0', 0), 'r'));
    for (const bad of ['', 'localhost', '10.0.0', '10.0.0.256', '1.2.3.4:80', 'fe80::1%eth0']) assert.equal(all(bad), false, bad);
  });

  test('problems: a bad address names address_prefix, a bad length names prefix_len', () => {
    assert.deepEqual(problemPaths(compileCidrRange(cidr('10.0.0.300', 8), 'p.direct_remote_ip')), ['p.direct_remote_ip.address_prefix']);
    assert.deepEqual(problemPaths(compileCidrRange(cidr('10.0.0.0', 33), 'p.direct_remote_ip')), ['p.direct_remote_ip.prefix_len']);
    assert.deepEqual(problemPaths(compileCidrRange(cidr('::', 129), 'p.x')), ['p.x.prefix_len']);
  });
});

describe('query parameter matcher', () => {
  test('parsing follows Envoy parseAndDecodeQueryString', () => {
    const parse = (p: string) => Object.fromEntries(parseQueryParameters(p));
    assert.deepEqual(parse('/hello'), {});
    assert.deepEqual(parse('/hello?'), {});
    assert.deepEqual(parse('/hello?hello'), { hello: [''] });
    assert.deepEqual(parse('/hello?hello%26'), { 'hello&': [''] });
    assert.deepEqual(parse('/hello?hello=&hello2=world2'), { hello: [''], hello2: ['world2'] });
    assert.deepEqual(parse('/hello?params_has_encoded_%26=a%26b&ok=1'), { 'params_has_encoded_&': ['a&b'], ok: ['1'] });
    assert.deepEqual(parse('/hello?params_%xy_%%yz=%xy%%yz'), { 'params_%xy_%%yz': ['%xy%%yz'] });
    assert.deepEqual(parse('/foo?a=1&b=2&a=3%264&a=5'), { a: ['1', '3&4', '5'], b: ['2'] });
    assert.deepEqual(parse('/foo?a=b+c'), { a: ['b+c'] }, '+ is not a space');
    assert.deepEqual(parse('/foo?a=1=2'), { a: ['1=2'] });
  });

  test('string_match tests the first value; present_match compares presence; no specifier means present', () => {
    const qp = (spec: envoy.QueryParameterMatcher['queryParameterMatchSpecifier']) =>
      value(compileQueryParameterMatcher(create(envoy.QueryParameterMatcherSchema, { name: 'debug', queryParameterMatchSpecifier: spec }), 'q'));
    const first = qp({ case: 'stringMatch', value: sm({ case: 'exact', value: '1' }) });
    assert.equal(first(parseQueryParameters('/?debug=1&debug=2')), true);
    assert.equal(first(parseQueryParameters('/?debug=2&debug=1')), false);
    assert.equal(first(parseQueryParameters('/?x=1')), false);
    const absent = qp({ case: 'presentMatch', value: false });
    assert.equal(absent(parseQueryParameters('/?x=1')), true);
    assert.equal(absent(parseQueryParameters('/?debug')), false);
    const present = qp({ case: 'presentMatch', value: true });
    assert.equal(present(parseQueryParameters('/?debug')), true);
    const bare = qp({ case: undefined });
    assert.equal(bare(parseQueryParameters('/?debug=0')), true);
    assert.equal(bare(parseQueryParameters('/')), false);
    assert.deepEqual(problemPaths(compileQueryParameterMatcher(create(envoy.QueryParameterMatcherSchema, { name: '' }), 'q')), ['q.name']);
  });
});
