// Field validation as Cilium's CRD schema does it (pkg/policy/api/fqdn.go; serverNames use the
// matchPattern character set). The schema regexes nest quantifiers (`(x+[.]?)+`), which backtrack
// exponentially in V8's RegExp on a long name with one bad character at the end, so they run on RE2.

import type { CompiledRegex } from '../regex/index.js';
import { compileFullMatchRegex, fullMatch } from '../regex/index.js';

/** Longest matchName / matchPattern Cilium accepts (matchpattern.MaxFQDNLength). */
export const MAX_FQDN_LENGTH = 255;

const MATCH_NAME = compileFullMatchRegex('^([-a-zA-Z0-9_]+[.]?)+$');
const MATCH_PATTERN = compileFullMatchRegex('^([-a-zA-Z0-9_*]+[.]?)+$');
const SERVER_NAME = MATCH_PATTERN;

export function validateMatchName(name: string): string | undefined {
  return validate('matchName', name, MATCH_NAME, 'a-z, A-Z, 0-9, "-", "_" and "."');
}

export function validateMatchPattern(pattern: string): string | undefined {
  return validate('matchPattern', pattern, MATCH_PATTERN, 'a-z, A-Z, 0-9, "-", "_", "." and "*"');
}

/** A TLS SNI in `toPorts[].serverNames`; `*` is allowed as in matchPattern. */
export function validateServerName(name: string): string | undefined {
  if (name === '') return 'serverName must not be empty';
  if (!fullMatch(SERVER_NAME, name)) {
    return `invalid serverName "${name}": only a-z, A-Z, 0-9, "-", "_", "." and "*" are allowed, with no empty label`;
  }
  return undefined;
}

function validate(field: string, value: string, regex: CompiledRegex, allowed: string): string | undefined {
  if (value === '') return `${field} must not be empty`;
  if (value.length > MAX_FQDN_LENGTH) {
    return `invalid ${field} "${value.slice(0, 40)}…": must be at most ${MAX_FQDN_LENGTH} characters long`;
  }
  if (!fullMatch(regex, value)) {
    return `invalid ${field} "${value}": only ${allowed} are allowed, with no empty label`;
  }
  return undefined;
}
