// Readers for field values that CiliumNetworkPolicy and NetworkPolicy share, so both kinds
// accept and refuse the same spellings.

import { parseCidr, parseIp, type Prefix } from '../cidr/index.js';
import { describe, type Checker, type Field } from './checker.js';

/**
 * An IANA service name (RFC 6335 §5.1), as Kubernetes named ports are: 1–15 lower-case letters,
 * digits and single inner hyphens, with at least one letter.
 */
export function isServiceName(name: string): boolean {
  return name.length <= 15 && /^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*$/.test(name) && !name.endsWith('-');
}

/** A CIDR string; Cilium (not Kubernetes' ipBlock) also takes a bare address as a host prefix. */
export function readCidr(c: Checker, f: Field, opts: { allowBareAddress: boolean }): Prefix | undefined {
  if (typeof f.value !== 'string') {
    c.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, `a CIDR must be a string, not ${describe(f.value)}`);
    return undefined;
  }
  const parsed = opts.allowBareAddress && !f.value.includes('/') ? parseIp(f.value) : parseCidr(f.value);
  if (!parsed.ok) {
    c.report('MESHD_ERR_POLICY_INVALID_CIDR', f.path, `invalid CIDR "${f.value}": ${parsed.error}`, 'write a prefix such as 10.0.0.0/8 or 2001:db8::/32');
    return undefined;
  }
  return parsed.prefix;
}
