// CIDR prefixes as exact integers, so containment is a mask and a compare, never string work.
import { FAMILY_BIT_LENGTH, formatIpAddress, isIpv4Mapped, parseIpAddress } from './ip-address.js';
import type { IpFamily } from './ip-address.js';

export interface Prefix {
  readonly family: IpFamily;
  /** Network address as an unsigned integer, host bits cleared. */
  readonly bits: bigint;
  readonly length: number;
  /** `10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104` (RFC 5952, host bits cleared). */
  readonly canonical: string;
}

export type ParseCidrResult =
  | { ok: true; prefix: Prefix; /** The text had bits set past the prefix length (Cilium masks them). */ hostBitsSet: boolean }
  | { ok: false; error: string };

export type ParseIpResult = { ok: true; prefix: Prefix } | { ok: false; error: string };

// Decimal without sign, spaces or leading zeros; Go's netip.ParsePrefix is as strict.
const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;

/** `a.b.c.d/n` or `ipv6/n`. A bare address is not a CIDR here; use parseIp. */
export function parseCidr(text: string): ParseCidrResult {
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, error: `"${text}" has no prefix length (expected address/length)` };
  const addressText = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  const address = parseIpAddress(addressText);
  if (!address) return { ok: false, error: `"${addressText}" is not an IPv4 or IPv6 address` };
  const maxLength = FAMILY_BIT_LENGTH[address.family];
  if (!PREFIX_LENGTH.test(lengthText) || Number(lengthText) > maxLength) {
    return { ok: false, error: `"${lengthText}" is not a prefix length between 0 and ${maxLength}` };
  }
  const length = Number(lengthText);
  const bits = address.bits & prefixMask(address.family, length);
  return { ok: true, prefix: makePrefix(address.family, bits, length), hostBitsSet: bits !== address.bits };
}

/**
 * A single address as a full-length prefix. IPv4-mapped IPv6 addresses become IPv4: that is how
 * Node reports IPv4 peers on dual-stack sockets, while the kernel sees (and Cilium's ipcache
 * keys) an IPv4 packet.
 */
export function parseIp(text: string): ParseIpResult {
  const parsed = parseIpAddress(text);
  if (!parsed) return { ok: false, error: `"${text}" is not an IPv4 or IPv6 address` };
  const address = isIpv4Mapped(parsed) ? { family: 4 as const, bits: parsed.bits & 0xffffffffn } : parsed;
  return { ok: true, prefix: makePrefix(address.family, address.bits, FAMILY_BIT_LENGTH[address.family]) };
}

/** Whether every address of `inner` is in `outer`. Families never mix (as in the kernel's LPM keys). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  return (
    outer.family === inner.family &&
    outer.length <= inner.length &&
    (inner.bits & prefixMask(outer.family, outer.length)) === outer.bits
  );
}

/** `ip` is a parseIp result (a full-length prefix); a shorter one must lie wholly inside. */
export function ipInPrefix(ip: Prefix, prefix: Prefix): boolean {
  return prefixContains(prefix, ip);
}

function makePrefix(family: IpFamily, bits: bigint, length: number): Prefix {
  return { family, bits, length, canonical: `${formatIpAddress({ family, bits })}/${length}` };
}

function prefixMask(family: IpFamily, length: number): bigint {
  const width = BigInt(FAMILY_BIT_LENGTH[family]);
  return ((1n << width) - 1n) ^ ((1n << (width - BigInt(length))) - 1n);
}
