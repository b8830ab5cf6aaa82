// IP address text ⇄ integer. Validation is node:net's (it rejects IPv4 leading zeros, which
// some stacks read as octal, and malformed IPv6); this file only converts what it accepted.
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** The address as an unsigned integer, most significant bit first. */
  bits: bigint;
}

export const FAMILY_BIT_LENGTH = { 4: 32, 6: 128 } as const;

export function parseIpAddress(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { family: 4, bits: parseIpv4(text) };
  // Zone ids (`fe80::1%eth0`) name an interface, not a network; policy has no use for them.
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const halves = text.split('::');
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  let bits = 0n;
  for (const group of [...head, ...new Array<number>(zeros).fill(0), ...tail]) bits = (bits << 16n) | BigInt(group);
  return { family: 6, bits };
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
export function formatIpAddress(address: IpAddress): string {
  const { family, bits } = address;
  if (family === 4) return formatIpv4(bits);
  // RFC 5952 §5: IPv4-mapped addresses keep the dotted tail, as Go's netip (and so Cilium) prints them.
  if (isIpv4Mapped(address)) return `::ffff:${formatIpv4(bits & 0xffffffffn)}`;
  const words = Array.from({ length: 8 }, (_, i) => Number((bits >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/** `::ffff:a.b.c.d`: how a dual-stack socket reports an IPv4 peer. */
export function isIpv4Mapped(address: IpAddress): boolean {
  return address.family === 6 && address.bits >> 32n === 0xffffn;
}

function groups(part: string): number[] {
  if (part === '') return [];
  const out: number[] = [];
  for (const group of part.split(':')) {
    if (group.includes('.')) {
      const v4 = parseIpv4(group);
      out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else {
      out.push(Number.parseInt(group, 16));
    }
  }
  return out;
}

function parseIpv4(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
}

function formatIpv4(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((bits >> shift) & 0xffn)).join('.');
}
