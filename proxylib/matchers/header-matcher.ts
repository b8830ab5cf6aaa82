// Envoy's HeaderMatcher (envoy.config.route.v3), used by RBAC `header` rules and by route matching.
//
// Semantics follow Envoy's HeaderUtility::matchHeaders, including its corners:
// - the header's value is all its values joined with ',' (the lookup function provides that);
// - an absent header (and treat_missing_header_as_empty unset) matches only `present_match: false`,
//   or `present_match: true` with invert_match — every other kind is false, inverted or not;
// - with treat_missing_header_as_empty an absent header is matched as the value '';
// - `exact_match: ""` (the deprecated field) matches any value of a present header;
// - `range_match` is [start, end) over the value parsed as a signed 64-bit decimal with surrounding
//   ASCII whitespace allowed (absl::SimpleAtoi);
// - no specifier at all is `present_match: true`.
// Names are case-insensitive (Envoy lower-cases them), and `host` is the same header as
// `:authority` (Envoy's header map maps the legacy name onto the pseudo-header). Values are wire
// bytes, one char per byte (see MatchInput in string-matcher.ts).
import type { envoy } from '../../xds/index.js';
import type { Compiled, ConfigProblem } from '../config/types.js';
import { compileRegexMatcher, compileStringMatcher, requiredPrefixOf, utf8Bytes, type StringPredicate } from './string-matcher.js';

/** Header value lookup by lower-case name: all values joined with ',', undefined when absent. */
export type HeaderLookup = (lowerCaseName: string) => string | undefined;

export type HeaderPredicate = (header: HeaderLookup) => boolean;

export interface CompiledHeaderMatcher {
  /** The lower-case name looked up (`host` becomes `:authority`). */
  readonly name: string;
  readonly matches: HeaderPredicate;
  /**
   * Set when a match needs the header present with a value starting with this (non-empty) text:
   * a necessary condition callers may test first to skip the matcher (never sufficient).
   */
  readonly requiredPrefix?: string;
}

type ValueTest = { kind: 'present'; present: boolean } | { kind: 'value'; test: StringPredicate };

/** Compiles a HeaderMatcher; `path` is the matcher's own field path. */
export function compileHeaderMatcher(m: envoy.HeaderMatcher, path: string): Compiled<HeaderPredicate> {
  const compiled = compileHeaderMatcherWithName(m, path);
  return compiled.ok ? { ok: true, value: compiled.value.matches, warnings: compiled.warnings } : compiled;
}

/** As compileHeaderMatcher, also giving the (normalized) header name. */
export function compileHeaderMatcherWithName(m: envoy.HeaderMatcher, path: string): Compiled<CompiledHeaderMatcher> {
  const problems: ConfigProblem[] = [];
  if (m.name === '') problems.push({ path: `${path}.name`, message: 'must not be empty' });
  const lower = m.name.toLowerCase();
  const name = lower === 'host' ? ':authority' : lower;
  const spec = compileSpecifier(m.headerMatchSpecifier, path);
  if (!spec.ok) problems.push(...spec.problems);
  if (problems.length > 0 || !spec.ok) return { ok: false, problems };
  const valueTest = spec.value;
  const invert = m.invertMatch;
  const missingAsEmpty = m.treatMissingHeaderAsEmpty;

  // What an absent header yields when it is not treated as empty.
  const whenAbsent = valueTest.kind === 'present' && valueTest.present === invert;
  let matches: HeaderPredicate;
  if (valueTest.kind === 'present') {
    const present = valueTest.present;
    matches = (header) => {
      const value = header(name);
      if (value === undefined && !missingAsEmpty) return whenAbsent;
      return present !== invert;
    };
  } else {
    const test = valueTest.test;
    matches = (header) => {
      const value = header(name);
      if (value === undefined) return missingAsEmpty ? test('') !== invert : false;
      return test(value) !== invert;
    };
    // Not inverted, a match needs test(value) true, so the value (or '' for a missing header, which
    // a non-empty prefix rules out) must carry the test's required prefix.
    const requiredPrefix = invert ? undefined : requiredPrefixOf(test);
    if (requiredPrefix !== undefined) return { ok: true, value: { name, matches, requiredPrefix }, warnings: spec.warnings };
  }
  return { ok: true, value: { name, matches }, warnings: spec.warnings };
}

function compileSpecifier(spec: envoy.HeaderMatcher['headerMatchSpecifier'], path: string): Compiled<ValueTest> {
  switch (spec.case) {
    case undefined:
      return ok({ kind: 'present', present: true });
    case 'presentMatch':
      return ok({ kind: 'present', present: spec.value });
    case 'exactMatch': {
      const expected = utf8Bytes(spec.value);
      return ok({ kind: 'value', test: expected === '' ? () => true : (v) => v === expected });
    }
    case 'prefixMatch': {
      if (spec.value === '') return fail(`${path}.prefix_match`, 'must not be empty');
      const expected = utf8Bytes(spec.value);
      return ok({ kind: 'value', test: (v) => v.startsWith(expected) });
    }
    case 'suffixMatch': {
      if (spec.value === '') return fail(`${path}.suffix_match`, 'must not be empty');
      const expected = utf8Bytes(spec.value);
      return ok({ kind: 'value', test: (v) => v.endsWith(expected) });
    }
    case 'containsMatch': {
      if (spec.value === '') return fail(`${path}.contains_match`, 'must not be empty');
      const expected = utf8Bytes(spec.value);
      return ok({ kind: 'value', test: (v) => v.includes(expected) });
    }
    case 'safeRegexMatch':
      return wrap(compileRegexMatcher(spec.value, `${path}.safe_regex_match`, 'bytes'));
    case 'stringMatch':
      return wrap(compileStringMatcher(spec.value, `${path}.string_match`, 'bytes'));
    case 'rangeMatch': {
      const { start, end } = spec.value;
      return ok({
        kind: 'value',
        test: (v) => {
          const n = parseInt64(v);
          return n !== undefined && n >= start && n < end;
        },
      });
    }
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL = /^[\t\n\v\f\r ]*([+-]?[0-9]+)[\t\n\v\f\r ]*$/;

/** absl::SimpleAtoi for int64: optional sign, decimal digits, ASCII whitespace around, no overflow. */
export function parseInt64(text: string): bigint | undefined {
  const m = DECIMAL.exec(text);
  if (m === null || m[1] === undefined) return undefined;
  const n = BigInt(m[1]);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

function wrap(compiled: Compiled<StringPredicate>): Compiled<ValueTest> {
  return compiled.ok ? { ok: true, value: { kind: 'value', test: compiled.value }, warnings: compiled.warnings } : compiled;
}

function ok<T>(value: T): Compiled<T> {
  return { ok: true, value, warnings: [] };
}

function fail<T>(path: string, message: string): Compiled<T> {
  return { ok: false, problems: [{ path, message }] };
}
