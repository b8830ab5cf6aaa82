// Envoy's CidrRange (envoy.config.core.v3) as an address predicate, for RBAC source/destination IP
// rules and FilterChainMatch prefix ranges.
//
// As Envoy's CidrRange::isInRange: address and range must be of the same family; host bits in
// `address_prefix` are ignored; an unset `prefix_len` is 0 (the whole family). IPv4-mapped IPv6
// peers (`::ffff:10.1.2.3`, how a dual-stack Node socket reports an IPv4 client) are matched as the
// IPv4 address, as Envoy does when it builds a peer address from a non-v6only socket. A range written
// as an IPv4-mapped IPv6 prefix stays an IPv6 range, as in Envoy (so it matches no IPv4 peer).
//
// Hand-written on purpose: node:net's BlockList costs ~1.3 µs per check here and mixes families;
// these compares are a few nanoseconds for IPv4. Address text is parsed once per distinct string
// (a two-entry memo: one request's RBAC rules look up the same two addresses many times).
import { isIPv4 } from 'node:net';
import { parseCidr, parseIp } from '../../policy/index.js';
import type { envoy } from '../../xds/index.js';
import type { Compiled } from '../config/types.js';

export type AddressPredicate = (address: string) => boolean;

type ParsedAddress = { family: 4; v4: number } | { family: 6; bits: bigint } | undefined;

export interface CompiledCidr {
  readonly family: 4 | 6;
  readonly length: number;
  /** Canonical text, e.g. `10.0.0.0/8`. */
  readonly canonical: string;
  readonly contains: AddressPredicate;
}

/** Compiles a CidrRange; `path` is the range's own field path. */
export function compileCidrRange(range: envoy.CidrRange, path: string): Compiled<AddressPredicate> {
  const compiled = compileCidrRangeDetailed(range, path);
  return compiled.ok ? { ok: true, value: compiled.value.contains, warnings: compiled.warnings } : compiled;
}

export function compileCidrRangeDetailed(range: envoy.CidrRange, path: string): Compiled<CompiledCidr> {
  const length = range.prefixLen ?? 0;
  const parsed = parseCidr(`${range.addressPrefix}/${length}`);
  if (!parsed.ok) {
    const badAddress = !parseCidr(`${range.addressPrefix}/0`).ok;
    return {
      ok: false,
      problems: [{ path: badAddress ? `${path}.address_prefix` : `${path}.prefix_len`, message: parsed.error }],
    };
  }
  const { prefix } = parsed;
  let contains: AddressPredicate;
  if (prefix.family === 4) {
    const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
    const network = Number(prefix.bits) >>> 0;
    contains = (address) => {
      const a = parseAddress(address);
      return a !== undefined && a.family === 4 && ((a.v4 & mask) >>> 0) === network;
    };
  } else {
    const width = 128n;
    const mask = ((1n << width) - 1n) ^ ((1n << (width - BigInt(length))) - 1n);
    const network = prefix.bits;
    contains = (address) => {
      const a = parseAddress(address);
      return a !== undefined && a.family === 6 && (a.bits & mask) === network;
    };
  }
  return { ok: true, value: { family: prefix.family, length, canonical: prefix.canonical, contains }, warnings: [] };
}

/** True when `address` is a literal IPv4 or IPv6 address (IPv4-mapped IPv6 included). */
export function isIpAddress(address: string): boolean {
  return parseAddress(address) !== undefined;
}

// Two entries: a request's rules read its source and its destination address, alternately.
let memoText0 = '';
let memoParsed0: ParsedAddress;
let memoText1 = '';
let memoParsed1: ParsedAddress;

function parseAddress(text: string): ParsedAddress {
  if (text === memoText0) return memoParsed0;
  if (text === memoText1) return memoParsed1;
  const parsed = parseUncached(text);
  memoText1 = memoText0;
  memoParsed1 = memoParsed0;
  memoText0 = text;
  memoParsed0 = parsed;
  return parsed;
}

function parseUncached(text: string): ParsedAddress {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, v4 };
  const parsed = parseIp(text); // IPv6, with IPv4-mapped addresses turned into IPv4
  if (!parsed.ok) return undefined;
  const { prefix } = parsed;
  return prefix.family === 4 ? { family: 4, v4: Number(prefix.bits) >>> 0 } : { family: 6, bits: prefix.bits };
}

/** Dotted-quad IPv4 as an unsigned 32-bit number; node:net decides what is valid. */
function parseIpv4(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  let value = 0;
  let octet = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      value = value * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 48);
    }
  }
  return (value * 256 + octet) >>> 0;
}
