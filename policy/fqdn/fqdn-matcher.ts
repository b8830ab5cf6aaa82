// toFQDNs / rules.dns name matching, translated to RE2 the way Cilium's
// pkg/fqdn/matchpattern.ToAnchoredRegexp does (v1.19+, with the `**.` subdomain prefix), so the
// regex here is the one the DNS proxy or Envoy can be handed unchanged. Like Cilium, the regex
// is lower-case and the name is lower-cased before matching, rather than using `(?i)`.

import type { FqdnSelector } from '../model.js';
import { compileFullMatchRegex, fullMatch } from '../regex/index.js';
import { validateMatchName, validateMatchPattern } from './validate-name.js';

export interface FqdnMatcher {
  /** Anchored RE2 over lower-cased fully-qualified names; undefined when the selector is invalid. */
  readonly regex: string | undefined;
  /** Why the selector is invalid; an invalid selector matches no name. */
  readonly error: string | undefined;
  matches(name: string): boolean;
}

const DNS_CHAR = '[-a-zA-Z0-9_]';
/** `**.` as a prefix: one or more whole labels, never zero (so `**.cilium.io` skips `cilium.io.`). */
const ONE_OR_MORE_LABELS = `(${DNS_CHAR}+([.]${DNS_CHAR}+)*)[.]`;
/** Every syntactically valid FQDN, and the root; what a stars-only pattern means. */
const EVERY_FQDN = `(^(${DNS_CHAR}+[.])+$)|(^[.]$)`;
const STARS_ONLY = /^\*+\.?$/;

export function compileFqdnMatcher(selector: FqdnSelector): FqdnMatcher {
  const translated = translateSelector(selector);
  if ('error' in translated) return { regex: undefined, error: translated.error, matches: () => false };
  const compiled = compileFullMatchRegex(translated.regex);
  return {
    regex: translated.regex,
    error: compiled.error,
    // The empty name would otherwise become the root `.` and be matched by a stars-only pattern.
    matches: (name) => name !== '' && fullMatch(compiled, normalizeDnsName(name)),
  };
}

/** Lower-case and fully qualify a DNS name, as Cilium compares them (`dns.FQDN(strings.ToLower(…))`). */
export function normalizeDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** The selector as it appears in identity labels (`fqdn:<this>`): matchName wins, as in Cilium. */
export function fqdnSelectorString(selector: FqdnSelector): string {
  return (selector.matchName || selector.matchPattern || '').toLowerCase();
}

function translateSelector(selector: FqdnSelector): { regex: string } | { error: string } {
  // Cilium's FQDNSelector.ToRegex takes matchName when both are set; the loader rejects that case.
  if (selector.matchName) {
    const error = validateMatchName(selector.matchName);
    return error !== undefined ? { error } : { regex: `^${escapeLabels(normalizeDnsName(selector.matchName))}$` };
  }
  if (selector.matchPattern) {
    const error = validateMatchPattern(selector.matchPattern);
    return error !== undefined ? { error } : { regex: matchPatternToRegex(selector.matchPattern) };
  }
  return { error: 'an FQDN selector needs matchName or matchPattern' };
}

function matchPatternToRegex(pattern: string): string {
  const lower = pattern.toLowerCase();
  if (STARS_ONLY.test(lower)) return EVERY_FQDN;
  const fqdn = normalizeDnsName(lower);
  const leadingStars = /^\*{2,}\./.exec(fqdn);
  if (leadingStars === null) return `^${escapeLabels(fqdn)}$`;
  return `^${ONE_OR_MORE_LABELS}${escapeLabels(fqdn.slice(leadingStars[0].length))}$`;
}

/** `.` is literal; a run of `*` is any run of label characters within one label. */
function escapeLabels(validated: string): string {
  return validated.replaceAll('.', '[.]').replace(/\*+/g, `${DNS_CHAR}*`);
}
