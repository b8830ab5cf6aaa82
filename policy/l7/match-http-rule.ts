// rules.http evaluation as Cilium's translation to Envoy behaves (cilium.md §1.8): fields of one
// rule are ANDed, rules are ORed; method, path and host are RE2 full-match regexes on `:method`,
// `:path` (query string included) and `:authority`.

import type { HeaderMatch, HttpRule } from '../model.js';
import { compileFullMatchRegex, fullMatch } from '../regex/index.js';

export interface HttpRequestFacts {
  method: string;
  /** `:path` as sent, query string included. */
  path: string;
  /** `:authority` / Host as sent (port included if the client sent one); defaults to the `host` header. */
  host?: string;
  headers: Array<[name: string, value: string]>;
}

/** `index` is the first rule that matched; it is absent when an empty rule list allowed everything. */
export type HttpRulesMatch = { matched: true; index?: number } | { matched: false };

export function matchHttpRules(rules: readonly HttpRule[], req: HttpRequestFacts): HttpRulesMatch {
  if (rules.length === 0) return { matched: true };
  const index = rules.findIndex((rule) => matchHttpRule(rule, req));
  return index >= 0 ? { matched: true, index } : { matched: false };
}

export function matchHttpRule(rule: HttpRule, req: HttpRequestFacts): boolean {
  return (
    regexAllows(rule.method, req.method) &&
    regexAllows(rule.path, req.path) &&
    regexAllows(rule.host, req.host ?? headerValue(req, 'host')) &&
    rule.headers.every((h) => headerHolds(req, h.name, h.value)) &&
    rule.headerMatches.every((h) => headerMatchHolds(req, h))
  );
}

function regexAllows(source: string | undefined, value: string | undefined): boolean {
  // Cilium skips empty strings just like absent fields (`if h.Path != ""`).
  if (!source) return true;
  return value !== undefined && fullMatch(compileFullMatchRegex(source), value);
}

function headerMatchHolds(req: HttpRequestFacts, match: HeaderMatch): boolean {
  // LOG/ADD/DELETE/REPLACE run after the rule matched and rewrite the header; they never deny.
  if (match.mismatch !== undefined) return true;
  // Cilium prefers the secret's value and falls back to the inline one when the secret cannot be
  // read. Offline there is no secret store: the inline value stands in, and without one the
  // requirement can never hold, as when Cilium fails to fetch the secret.
  if (match.secret !== undefined && !match.value) return false;
  return headerHolds(req, match.name, match.value || undefined);
}

/** `expected` undefined means presence; otherwise an exact, case-sensitive value. */
function headerHolds(req: HttpRequestFacts, name: string, expected: string | undefined): boolean {
  const actual = headerValue(req, name);
  return actual !== undefined && (expected === undefined || actual === expected);
}

/**
 * Envoy's view of a header for matching: names are case-insensitive, repeated headers are joined
 * with `,` (HeaderUtility::getAllOfHeaderAsString), and pseudo-headers come from the request line.
 */
function headerValue(req: HttpRequestFacts, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower === ':method') return req.method;
  if (lower === ':path') return req.path;
  if (lower === ':authority') return req.host ?? headerValue(req, 'host');
  const values = req.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(',');
}
