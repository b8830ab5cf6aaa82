// Envoy's QueryParameterMatcher (envoy.config.route.v3) and the query-string parsing it runs on.
//
// Parsing follows Envoy's QueryParamsMulti::parseAndDecodeQueryString: the part after the first
// `?` is split on `&`; each piece on its first `=` (a piece without `=` is a key with value '');
// key and value are percent-decoded where the escape is valid (`%xy` with bad hex stays as it is,
// `+` stays `+`); repeated keys keep every value in order. Matching follows Envoy's
// QueryParameterMatcher (with enable_new_query_param_present_match_behavior, the current default):
// `present_match: b` matches when the parameter's presence equals b (so `false` matches its
// absence); otherwise an absent parameter never matches, no specifier matches any value, and
// `string_match` is tried on the first value only.
import type { envoy } from '../../xds/index.js';
import type { Compiled } from '../config/types.js';
import { compileStringMatcher } from './string-matcher.js';

/** Decoded query parameters: key → values in arrival order. */
export type QueryParameters = ReadonlyMap<string, readonly string[]>;

export type QueryPredicate = (params: QueryParameters) => boolean;

/** Parses the query of a request path (`/a?x=1&y`); no `?` → no parameters. */
export function parseQueryParameters(pathWithQuery: string): Map<string, string[]> {
  const params = new Map<string, string[]>();
  const q = pathWithQuery.indexOf('?');
  if (q < 0) return params;
  let end = pathWithQuery.indexOf('#', q + 1);
  if (end < 0) end = pathWithQuery.length;
  let start = q + 1;
  while (start < end) {
    let amp = pathWithQuery.indexOf('&', start);
    if (amp < 0 || amp > end) amp = end;
    if (amp > start) {
      const piece = pathWithQuery.slice(start, amp);
      const eq = piece.indexOf('=');
      const key = percentDecode(eq < 0 ? piece : piece.slice(0, eq));
      const value = eq < 0 ? '' : percentDecode(piece.slice(eq + 1));
      const list = params.get(key);
      if (list) list.push(value);
      else params.set(key, [value]);
    }
    start = amp + 1;
  }
  return params;
}

/**
 * Percent-decoding as Envoy's PercentEncoding::decode: each valid `%xy` becomes the byte 0xXY
 * (kept as one char code, the latin1 view of header bytes the codecs use); anything else is kept.
 */
export function percentDecode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%' && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Compiles a QueryParameterMatcher; `path` is the matcher's own field path. */
export function compileQueryParameterMatcher(m: envoy.QueryParameterMatcher, path: string): Compiled<QueryPredicate> {
  if (m.name === '') return { ok: false, problems: [{ path: `${path}.name`, message: 'must not be empty' }] };
  const name = m.name;
  const spec = m.queryParameterMatchSpecifier;
  if (spec.case === 'stringMatch') {
    const compiled = compileStringMatcher(spec.value, `${path}.string_match`, 'bytes');
    if (!compiled.ok) return compiled;
    const test = compiled.value;
    return {
      ok: true,
      value: (params) => {
        const first = params.get(name)?.[0];
        return first !== undefined && test(first);
      },
      warnings: compiled.warnings,
    };
  }
  if (spec.case === 'presentMatch') {
    const wanted = spec.value;
    return { ok: true, value: (params) => params.has(name) === wanted, warnings: [] };
  }
  return { ok: true, value: (params) => params.has(name), warnings: [] };
}
