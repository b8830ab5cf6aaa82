// RE2 regexes with Envoy `safe_regex` semantics: the whole input must match, never a substring
// (Cilium hands rules.http method/path/host to Envoy as full-match RE2). re2js is a pure-JS RE2,
// so matching stays linear in the input, whatever the pattern: rule regexes come from policy
// authors and must not be able to stall the proxy the way a backtracking `RegExp` can.

import { RE2JS } from 're2js';

export interface CompiledRegex {
  readonly source: string;
  /** RE2's complaint about the syntax; a regex that did not compile matches nothing (fail closed). */
  readonly error: string | undefined;
  readonly re2: RE2JS | undefined;
}

// The same few rule regexes are matched on every request, so compile each once. Re-inserting on a
// hit keeps Map insertion order close to recency, which makes evicting the first key LRU-ish.
const CACHE_MAX_ENTRIES = 4096;
const cache = new Map<string, CompiledRegex>();

export function compileFullMatchRegex(source: string): CompiledRegex {
  const hit = cache.get(source);
  if (hit !== undefined) {
    cache.delete(source);
    cache.set(source, hit);
    return hit;
  }
  const compiled = compileUncached(source);
  cache.set(source, compiled);
  if (cache.size > CACHE_MAX_ENTRIES) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  return compiled;
}

/** The syntax error RE2 reports for `source` (lookaround, backreferences, ...), or undefined. */
export function checkRegex(source: string): string | undefined {
  return compileFullMatchRegex(source).error;
}

export function fullMatch(regex: CompiledRegex, input: string): boolean {
  // testExact anchors both ends inside the engine, so the source is compiled as written (no
  // `^(?:…)$` wrapper) and RE2's error messages quote the author's pattern.
  return regex.re2 !== undefined && regex.re2.testExact(input);
}

function compileUncached(source: string): CompiledRegex {
  try {
    return { source, error: undefined, re2: RE2JS.compile(source) };
  } catch (err) {
    return { source, error: err instanceof Error ? err.message : String(err), re2: undefined };
  }
}
