import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalizePath,
  mergeSlashes,
  normalizeRequestPath,
  pathWithoutQuery,
  stripParametersFromDotSegments,
  unescapeSlashes,
  type PathNormalizationOptions,
  type PathNormalizationResult,
} from './index.js';

/** What meshd's translation puts in every HCM (xds/resources/listener.ts). */
const MESHD: PathNormalizationOptions = { normalizePath: true, mergeSlashes: true, escapedSlashes: 'reject' };
/** Envoy's defaults when an HCM sets none of the three. */
const ENVOY_DEFAULTS: PathNormalizationOptions = { normalizePath: false, mergeSlashes: false, escapedSlashes: 'keep' };
const FORWARD: PathNormalizationOptions = { normalizePath: true, mergeSlashes: true, escapedSlashes: 'unescape_and_forward' };
const KEEP: PathNormalizationOptions = { normalizePath: true, mergeSlashes: true, escapedSlashes: 'keep' };
const REDIRECT: PathNormalizationOptions = { normalizePath: true, mergeSlashes: true, escapedSlashes: 'unescape_and_redirect' };

const ok = (path: string): PathNormalizationResult => ({ ok: true, path, redirect: false });
const badPath: PathNormalizationResult = { ok: false, reason: 'bad_path', status: 400 };
const escapedSlash: PathNormalizationResult = { ok: false, reason: 'escaped_slash', status: 400 };
const notOrigin: PathNormalizationResult = { ok: false, reason: 'not_origin_path', status: 404 };

// The bypass corpus: each target with the result Envoy's HCM gives (ConnectionManagerImpl +
// maybeNormalizePath + PathUtil), derived step by step from Envoy's source and its unit tests.
const BYPASS_CORPUS: ReadonlyArray<[target: string, options: PathNormalizationOptions, expected: PathNormalizationResult, why: string]> = [
  ['/public/../admin', MESHD, ok('/admin'), 'dot-dot segment removed'],
  ['/public/../admin', ENVOY_DEFAULTS, ok('/public/../admin'), 'without normalize_path Envoy matches the raw path'],
  ['//admin', MESHD, ok('/admin'), 'merge_slashes'],
  ['//admin', ENVOY_DEFAULTS, ok('//admin'), 'no merge without merge_slashes'],
  ['/./admin', MESHD, ok('/admin'), 'dot segment removed'],
  ['/%2e%2e/admin', MESHD, ok('/admin'), '%2e is a dot'],
  ['/public/%2e%2e/admin', MESHD, ok('/admin'), 'encoded dot-dot removed'],
  ['/public/%2E%2e/admin', MESHD, ok('/admin'), 'hex case of %2E does not matter'],
  ['/public/.%2e/admin', MESHD, ok('/admin'), 'mixed literal and encoded dots'],
  ['/public/..;x=1/admin', MESHD, ok('/admin'), 'dot-dot with parameters (strip_dotdot_segments_with_parameters)'],
  ['/public/..%3Bx/admin', MESHD, ok('/public/..%3Bx/admin'), 'an encoded ";" is not a parameter: the segment is a name'],
  // Deliberately stricter than Envoy, which strips dot-segment parameters only before decoding and so
  // forwards "/public/..;x/admin" here (a Tomcat/Spring upstream would serve /admin behind a /public rule).
  ['/public/%2e%2e;x/admin', MESHD, ok('/admin'), 'MESHD DIFFERS: encoded dot-dot with parameters is removed too (Envoy: /public/..;x/admin)'],
  ['/public/\\..;x/admin', MESHD, ok('/public/admin'), 'MESHD DIFFERS: the backslash is an empty segment that the parameterized dot-dot removes (Envoy: /public/..;x/admin)'],
  ['%2e%2e/admin', MESHD, notOrigin, 'not starting with "/": Envoy answers 404 before normalizing'],
  ['/admin%2F', MESHD, escapedSlash, 'escaped slash with REJECT_REQUEST'],
  ['/public%2F..%2Fadmin', MESHD, escapedSlash, 'escaped slash with REJECT_REQUEST'],
  ['/public%2F..%2Fadmin', FORWARD, ok('/admin'), 'UNESCAPE_AND_FORWARD unescapes BEFORE normalizing'],
  ['/public%2F..%2Fadmin', KEEP, ok('/public%2F..%2Fadmin'), 'KEEP_UNCHANGED: %2F stays, ".." is not a segment'],
  ['/public%2f..%2fadmin', KEEP, ok('/public%2f..%2fadmin'), 'Envoy keeps the hex case of escapes it does not decode'],
  ['/public%5C..%5Cadmin', MESHD, escapedSlash, '%5C counts as an escaped slash'],
  ['/public%5c..%5cadmin', FORWARD, ok('/admin'), '%5c → "\\", which normalize_path turns into "/"'],
  ['/public\\..\\admin', MESHD, ok('/admin'), 'a literal backslash is a slash for normalize_path'],
  ['/public\\..\\admin', ENVOY_DEFAULTS, ok('/public\\..\\admin'), 'without normalize_path the backslash stays'],
  ['/ADMIN', MESHD, ok('/ADMIN'), 'no case normalization: /ADMIN does not become /admin'],
  ['/%61dmin', MESHD, ok('/admin'), 'unreserved escapes are decoded'],
  ['/%7Euser/%2D', MESHD, ok('/~user/-'), 'unreserved escapes are decoded'],
  ['/admin?x=/../y//z', MESHD, ok('/admin?x=/../y//z'), 'the query is never touched'],
  ['/a/..?q', MESHD, ok('/?q'), 'dot-dot before the query'],
  ['/admin#frag', MESHD, badPath, 'a fragment is rejected (http_reject_path_with_fragment)'],
  ['/admin%00', MESHD, badPath, '%00 fails canonicalization'],
  ['/public/%2e%2e%2fadmin', MESHD, escapedSlash, 'encoded dot-dot-slash: the escaped slash decides first'],
  ['/public/%2e%2e%2fadmin', KEEP, ok('/public/..%2fadmin'), 'KEEP: the dots decode, %2f stays, no segment removed'],
  ['/a//b/../c', MESHD, ok('/a/c'), 'dot-dot removes the empty segment, then slashes merge'],
  ['/admin/.', MESHD, ok('/admin/'), 'trailing dot segment leaves the slash'],
  ['/..', MESHD, ok('/'), 'dot-dot above the root stays at the root'],
  ['/../../admin', MESHD, ok('/admin'), 'repeated dot-dot above the root'],
  ['//', MESHD, ok('//'), 'Envoy quirk: merge_slashes leaves a lone "//" as is'],
  ['/a%2Fb', REDIRECT, { ok: true, path: '/a/b', redirect: true }, 'UNESCAPE_AND_REDIRECT'],
  ['/a/b', REDIRECT, ok('/a/b'), 'no escaped slash, no redirect'],
  ['*', MESHD, notOrigin, 'asterisk-form is not an origin path'],
  ['', MESHD, notOrigin, 'empty path'],
  ['/a%zz/%', MESHD, ok('/a%zz/%'), 'invalid escapes pass through'],
  ['/%%30%30', MESHD, ok('/%2500'), 'a nested escape is neutralized (%25)'],
];

describe('normalizeRequestPath decides the bypass corpus as Envoy does, except where marked MESHD DIFFERS', () => {
  for (const [target, options, expected, why] of BYPASS_CORPUS) {
    const preset = options === MESHD ? 'meshd' : options === ENVOY_DEFAULTS ? 'envoy-defaults' : options === FORWARD ? 'forward' : options === KEEP ? 'keep' : 'redirect';
    test(`${JSON.stringify(target)} with ${preset} settings: ${why}`, () => {
      assert.deepEqual(normalizeRequestPath(target, options), expected);
    });
  }
});

describe('canonicalizePath matches the vectors of Envoy path_utility_test', () => {
  test('already normal paths are unchanged', () => {
    for (const p of ['/xyz', '/x/y/z', '/']) assert.equal(canonicalizePath(p), p);
  });
  test('paths with %00 are invalid', () => {
    for (const p of ['/xyz/.%00../abc', '/xyz/%00.%00./abc', '/xyz/AAAAA%%0000/abc', '/a\u0000b']) assert.equal(canonicalizePath(p), undefined, p);
  });
  test('dot segments, backslashes and escapes are normalized', () => {
    const pairs: Array<[string, string]> = [
      ['/a/b/../c', '/a/c'],
      ['/a/b/./c', '/a/b/c'],
      ['a/b/../c', '/a/c'],
      ['/a/b/../../../../c', '/c'],
      ['/a/..\\c', '/c'],
      ['/%c0%af', '/%c0%af'],
      ['/%5c%25', '/%5c%25'],
      ['/a/b/%2E%2E/c', '/a/c'],
      ['/a/b/%2E./c', '/a/c'],
      ['/a/b/%2E/c', '/a/b/c'],
      ['..', '/'],
      ['/../a/b', '/a/b'],
      ['/./a/b', '/a/b'],
      ['/A/B/C', '/A/B/C'],
      ['/a/b/%2e%2e/c', '/a/c'],
      ['/a/%2F%2f/c', '/a/%2F%2f/c'],
      ['/a b"<>`{|}^', '/a%20b%22%3C%3E%60%7B%7C%7D%5E'],
      ['/\u00e9\u007f\u0001', '/%E9%7F%01'],
      ['/a.b/.c/..d', '/a.b/.c/..d'],
    ];
    for (const [input, output] of pairs) assert.equal(canonicalizePath(input), output, input);
  });
  test('strings that are not byte strings are rejected rather than guessed', () => {
    assert.equal(canonicalizePath('/\u0100'), undefined);
  });
});

describe('the single steps match Envoy path_utility_test', () => {
  test('mergeSlashes', () => {
    const pairs: Array<[string, string]> = [
      ['', ''],
      ['a//b/c', 'a/b/c'],
      ['/a//b/c/', '/a/b/c/'],
      ['a//b/c/', 'a/b/c/'],
      ['/a', '/a'],
      ['//a/b/c', '/a/b/c'],
      ['/a//b/c', '/a/b/c'],
      ['/a/b/c//', '/a/b/c/'],
      ['/a///b/c', '/a/b/c'],
      ['/a////b/c', '/a/b/c'],
    ];
    for (const [input, output] of pairs) assert.equal(mergeSlashes(input), output, input);
    // With a query, through the full function (merge only touches the path).
    assert.deepEqual(normalizeRequestPath('/a//b?a=///c', { normalizePath: false, mergeSlashes: true, escapedSlashes: 'keep' }), ok('/a/b?a=///c'));
    assert.deepEqual(normalizeRequestPath('/a//b?', { normalizePath: false, mergeSlashes: true, escapedSlashes: 'keep' }), ok('/a/b?'));
    assert.deepEqual(normalizeRequestPath('//a/?b', { normalizePath: false, mergeSlashes: true, escapedSlashes: 'keep' }), ok('/a/?b'));
  });
  test('unescapeSlashes', () => {
    const pairs: Array<[string, string]> = [
      ['', ''],
      ['%2f%2F', '//'],
      ['/a%2Fb%2fc/', '/a/b/c/'],
      ['%2b', '%2b'],
      ['%2', '%2'],
      ['%', '%'],
      ['%%2fa/', '%/a/'],
      ['%2%2fa/', '%2/a/'],
      ['%5c%5C', '\\\\'],
      ['/a%5Cb%5cc/', '/a\\b\\c/'],
      ['/x/%2E%2e/z%2f%2Fabc%5C../def', '/x/%2E%2e/z//abc\\../def'],
    ];
    for (const [input, output] of pairs) assert.equal(unescapeSlashes(input), output, input);
    assert.deepEqual(normalizeRequestPath('/%2fa%5Cb%2fc%5c?%2fabcd%5C%%2f%', { normalizePath: false, mergeSlashes: false, escapedSlashes: 'unescape_and_forward' }), ok('//a\\b/c\\?%2fabcd%5C%%2f%'));
  });
  test('stripParametersFromDotSegments', () => {
    const pairs: Array<[string, string]> = [
      ['', ''],
      ['/xyz', '/xyz'],
      ['/xyz/..;foo=bar/abc', '/xyz/../abc'],
      ['/..;foo=bar/abc', '/../abc'],
      ['/xyz/..;', '/xyz/..'],
      ['/a/..;foo/b/..;bar/c', '/a/../b/../c'],
      ['/xyz/..foo', '/xyz/..foo'],
      ['/xyz/...;foo', '/xyz/...;foo'],
      ['/xyz/.;foo=bar/abc', '/xyz/./abc'],
      ['/a/.;param1;param2/b', '/a/./b'],
    ];
    for (const [input, output] of pairs) assert.equal(stripParametersFromDotSegments(input), output, input);
    for (const [input, output] of [
      ['/xyz/..;foo=bar/.;v1=2,v2=3/abc', '/abc'],
      ['/..;foo=bar/abc/.;mmm', '/abc/'],
      ['/xyz/..;foo=bar/.;fff=zzz?blah=woops', '/?blah=woops'],
      ['/xyz/..;foo=bar/.;fff=zzz/remain;blah-bluh?query', '/remain;blah-bluh?query'],
    ] as const) {
      assert.deepEqual(normalizeRequestPath(input, { normalizePath: true, mergeSlashes: false, escapedSlashes: 'keep' }), ok(output), input);
    }
  });
  test('pathWithoutQuery strips from the first "?"', () => {
    assert.equal(pathWithoutQuery('/a?b?c'), '/a');
    assert.equal(pathWithoutQuery('/a'), '/a');
  });
});

test('normalizing a normalized path changes nothing (random paths from a hostile alphabet)', () => {
  const alphabet = ['/', '/', '.', '..', '%2e', '%2E', '%2e%2e', ';', 'a', 'B', '%2f', '%5c', '%5C', '\\', '%25', '%', '0', '%41', '%30', '%3b', '?', '=', '~', '%7e', ' '];
  let seed = 0x70617468;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const presets = [MESHD, FORWARD, KEEP, { normalizePath: true, mergeSlashes: false, escapedSlashes: 'keep' } as const];
  for (let i = 0; i < 20000; i++) {
    let path = '/';
    for (let n = 1 + next(12); n > 0; n--) path += alphabet[next(alphabet.length)];
    for (const options of presets) {
      const once = normalizeRequestPath(path, options);
      if (!once.ok) continue;
      const twice = normalizeRequestPath(once.path, options);
      assert.deepEqual(twice, once, `${JSON.stringify(path)} → ${JSON.stringify(once.path)} → ${JSON.stringify(twice)}`);
    }
  }
});
