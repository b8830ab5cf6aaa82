// Envoy's StringMatcher and RegexMatcher (envoy.type.matcher.v3), compiled once per config into
// plain predicates so the request path does no interpretation work.
//
// Semantics follow Envoy's StringMatcherImpl: `exact`/`prefix`/`suffix`/`contains` compare code
// units, `ignore_case` folds ASCII letters only (absl::EqualsIgnoreCase and friends), and
// `safe_regex` is an RE2 full match (RE2::FullMatch). Envoy refuses `ignore_case` together with
// `safe_regex` (case folding belongs in the pattern, `(?i)`), and so do we.
//
// RE2 comes from policy's wrapper of `re2js` (a pure-JS RE2: linear in the input whatever the
// pattern, so a rule author cannot stall the proxy the way a backtracking RegExp can; each distinct
// source is compiled once, shared with the policy engine). Two shapes meshd's translator emits on
// every request — a plain literal (`GET`) and a literal followed by `.*` (`/public/.*`) — skip the
// regex engine: they are decided with string compares that give RE2's exact answer (`.` does not
// match `\n` unless `(?s)` is set, so the `.*` tail must be free of newlines).
import { compileRe2FullMatch } from '../../policy/index.js';
import type { envoy } from '../../xds/index.js';
import type { Compiled, ConfigProblem } from '../config/types.js';

export type StringPredicate = (value: string) => boolean;

export const NOT_IMPLEMENTED = "is not implemented by meshd's built-in proxy";

/**
 * What the matched strings are. 'text': ordinary strings (certificate SANs and subjects, names).
 * 'bytes': wire bytes one char per byte (latin1), as the HTTP/1.1 and HTTP/2 codecs give header
 * values and paths. Envoy compares header bytes with the UTF-8 bytes of the pattern and runs RE2 on
 * them as UTF-8; in 'bytes' mode literal patterns are turned into their UTF-8 bytes and values with
 * bytes ≥ 0x80 are decoded as UTF-8 before a regex sees them, so non-ASCII text matches as in Envoy.
 */
export type MatchInput = 'text' | 'bytes';

/** Compiles a StringMatcher; `path` is the matcher's own field path (problems are reported below it). */
export function compileStringMatcher(m: envoy.StringMatcher, path: string, input: MatchInput = 'text'): Compiled<StringPredicate> {
  const pattern = m.matchPattern;
  const ignoreCase = m.ignoreCase;
  const literal = input === 'bytes' ? utf8Bytes : (x: string) => x;
  switch (pattern.case) {
    case 'exact': {
      const expected = literal(pattern.value);
      if (!ignoreCase) return ok(requiring(expected, (v) => v === expected));
      const lower = asciiLower(expected);
      return ok((v) => v.length === lower.length && asciiLower(v) === lower);
    }
    case 'prefix': {
      if (pattern.value === '') return fail(`${path}.prefix`, 'must not be empty');
      const expected = literal(pattern.value);
      if (!ignoreCase) return ok(requiring(expected, (v) => v.startsWith(expected)));
      const lower = asciiLower(expected);
      return ok((v) => v.length >= lower.length && asciiLower(v.slice(0, lower.length)) === lower);
    }
    case 'suffix': {
      if (pattern.value === '') return fail(`${path}.suffix`, 'must not be empty');
      const expected = literal(pattern.value);
      if (!ignoreCase) return ok((v) => v.endsWith(expected));
      const lower = asciiLower(expected);
      return ok((v) => v.length >= lower.length && asciiLower(v.slice(v.length - lower.length)) === lower);
    }
    case 'contains': {
      if (pattern.value === '') return fail(`${path}.contains`, 'must not be empty');
      const expected = literal(pattern.value);
      if (!ignoreCase) return ok((v) => v.includes(expected));
      const lower = asciiLower(expected);
      return ok((v) => asciiLower(v).includes(lower));
    }
    case 'safeRegex': {
      if (ignoreCase) return fail(`${path}.ignore_case`, 'has no effect with safe_regex and Envoy rejects it: use (?i) in the regex');
      return compileRegexMatcher(pattern.value, `${path}.safe_regex`, input);
    }
    case 'custom':
      return fail(`${path}.custom`, NOT_IMPLEMENTED);
    case undefined:
      return fail(path, 'string matcher has no match pattern (exact, prefix, suffix, contains or safe_regex)');
  }
}

/** Compiles a RegexMatcher (Google RE2, full match). */
export function compileRegexMatcher(m: envoy.RegexMatcher, path: string, input: MatchInput = 'text'): Compiled<StringPredicate> {
  const problems: ConfigProblem[] = [];
  if (m.engineType.case === 'googleRe2' && m.engineType.value.maxProgramSize !== undefined) {
    // Deprecated in Envoy but still enforced there (a config over the limit is rejected); we do not
    // measure RE2 program sizes, so honouring it silently is impossible.
    problems.push({ path: `${path}.google_re2.max_program_size`, message: NOT_IMPLEMENTED });
  }
  if (m.regex === '') problems.push({ path: `${path}.regex`, message: 'must not be empty' });
  if (problems.length > 0) return { ok: false, problems };
  const compiled = compileFullMatchRegex(m.regex);
  if (typeof compiled === 'string') return fail(`${path}.regex`, `RE2 rejects the regex: ${compiled}`);
  if (input === 'text') return ok(compiled);
  // A shortcut made of ASCII literals gives the same answer on the raw bytes as on their UTF-8
  // decoding (ASCII bytes decode to themselves, any byte >= 0x80 to a non-ASCII char, and 0x0A is
  // never part of a multi-byte sequence), so it skips the per-call decode check.
  if (asciiShortcuts.has(compiled)) return ok(compiled);
  const prefix = requiredPrefixOf(compiled);
  const decoding: StringPredicate = (v) => compiled(NON_ASCII.test(v) ? Buffer.from(v, 'latin1').toString('utf8') : v);
  // The same holds for an ASCII required prefix: the raw bytes start with it iff the decoded text does.
  return ok(prefix !== undefined && !NON_ASCII.test(prefix) ? requiring(prefix, decoding) : decoding);
}

/**
 * The literal text every value a predicate accepts starts with, when the predicate is known to
 * need one (exact, prefix and the regex shapes below): RBAC uses it to skip, with one startsWith,
 * the policies a request cannot match (compile-filter.ts). Undefined: no requirement known.
 */
export function requiredPrefixOf(predicate: StringPredicate): string | undefined {
  return requiredPrefixes.get(predicate);
}

const requiredPrefixes = new WeakMap<StringPredicate, string>();
/** Regex shortcuts whose literals are all ASCII (exact on raw bytes too, see compileRegexMatcher). */
const asciiShortcuts = new WeakSet<StringPredicate>();

function requiring(prefix: string, predicate: StringPredicate): StringPredicate {
  if (prefix !== '') requiredPrefixes.set(predicate, prefix);
  return predicate;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** The UTF-8 bytes of `s`, one char per byte (identity for ASCII). */
export function utf8Bytes(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** An RE2 full-match predicate for `source`, or RE2's syntax error. */
export function compileFullMatchRegex(source: string): StringPredicate | string {
  const { re2, error } = compileRe2FullMatch(source);
  if (re2 === undefined) return error ?? 'does not compile';
  return shortcutOf(source) ?? guarded(source, (v) => re2.testExact(v));
}

/** Marks a shortcut built from `literals`: its required prefix, and whether it is ASCII-only. */
function shortcut(literals: readonly string[], prefix: string, predicate: StringPredicate): StringPredicate {
  if (literals.every((l) => !NON_ASCII.test(l))) asciiShortcuts.add(predicate);
  return requiring(prefix, predicate);
}

function commonPrefix(values: readonly string[]): string {
  let prefix = values[0] ?? '';
  for (const v of values) while (!v.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

// re2js costs 0.5–1.5 µs per match here; a request meets many rule regexes, and most of them are
// one of a few shapes that plain string operations decide exactly (RE2 full-match semantics: `.`
// matches anything but `\n`). Each shortcut is checked against RE2 itself in matchers.test.ts.
function shortcutOf(source: string): StringPredicate | undefined {
  const whole = literalOf(source);
  if (whole !== undefined) return shortcut([whole], whole, (v) => v === whole);
  // `lit.*`
  if (source.endsWith('.*')) {
    const head = literalOf(source.slice(0, -2));
    if (head !== undefined) return shortcut([head], head, (v) => v.startsWith(head) && v.indexOf('\n', head.length) < 0);
  }
  // `lit(sep.*)?`, e.g. `/v1/status(/.*)?`
  const optionalTail = /^(.*)\(([^()|]*)\.\*\)\?$/s.exec(source);
  if (optionalTail) {
    const head = literalOf(optionalTail[1]!);
    const sep = literalOf(optionalTail[2]!);
    if (head !== undefined && sep !== undefined) {
      const full = head + sep;
      return shortcut([head, sep], head, (v) => v === head || (v.startsWith(full) && v.indexOf('\n', full.length) < 0));
    }
  }
  // `a|b|c` of literals, e.g. `GET|HEAD`
  if (source.includes('|') && !/[()]/.test(source)) {
    const alternatives = source.split('|').map(literalOf);
    if (alternatives.every((a) => a !== undefined)) {
      const literals = alternatives as string[];
      const set = new Set(literals);
      return shortcut(literals, commonPrefix(literals), (v) => set.has(v));
    }
  }
  return undefined;
}

/** Runs `test` only when `v` starts with the pattern's literal prefix (a full match needs it). */
function guarded(source: string, test: StringPredicate): StringPredicate {
  // Any `|` may be a top-level alternation, and then no prefix is required of the input.
  if (source.includes('|')) return test;
  const prefix = literalPrefixOf(source);
  if (prefix === '') return test;
  return requiring(prefix, (v) => v.startsWith(prefix) && test(v));
}

const REGEX_META = '\\.+*?()|[]{}^$';
const QUANTIFIERS = '*+?{';

/** The text `source` matches when it is a plain literal (escaped punctuation allowed), else undefined. */
function literalOf(source: string): string | undefined {
  const { text, end } = literalRun(source);
  return end === source.length ? text : undefined;
}

/** The literal text every full match of `source` starts with. */
function literalPrefixOf(source: string): string {
  const { text, end, lastLength } = literalRun(source);
  if (end === source.length) return text;
  // A quantifier after the run applies to its last character, which is then not required.
  return QUANTIFIERS.includes(source[end]!) ? text.slice(0, text.length - lastLength) : text;
}

function literalRun(source: string): { text: string; end: number; lastLength: number } {
  let text = '';
  let i = 0;
  let lastLength = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1];
      // `\.`, `\/`, `\-`...: escaped punctuation is the character itself; `\d`, `\b`, `\Q`... are not literals.
      if (next === undefined || /[0-9A-Za-z]/.test(next) || next.charCodeAt(0) > 0x7e) break;
      text += next;
      lastLength = 1;
      i += 2;
      continue;
    }
    if (REGEX_META.includes(c)) break;
    text += c;
    lastLength = 1;
    i++;
  }
  return { text, end: i, lastLength };
}

/** ASCII-only lower-casing: what absl's *IgnoreCase helpers do (non-ASCII letters are not folded). */
export function asciiLower(s: string): string {
  // Fast path: most values have no upper-case ASCII letter at all.
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) break;
  }
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

function ok<T>(value: T): Compiled<T> {
  return { ok: true, value, warnings: [] };
}

function fail<T>(path: string, message: string): Compiled<T> {
  return { ok: false, problems: [{ path, message }] };
}
