// IP addresses and prefixes as the maps store them: 16 bytes, IPv4 in the first four (network
// order) and zeros after, with the family kept beside. Validation is node:net's.
// Hand-written because the policy layer's CIDR parser is not part of its public entry (yet):
// this converts only what node:net accepted.
import { isIPv4, isIPv6 } from 'node:net';
import { AF_INET, AF_INET6 } from './constants.js';
import { DatapathError } from './errors.js';

export type AddressFamily = typeof AF_INET | typeof AF_INET6;

export interface BinaryAddress {
  family: AddressFamily;
  /** 16 bytes; IPv4 in bytes 0–3. */
  bytes: Buffer;
}

export interface BinaryPrefix extends BinaryAddress {
  /** 0–32 for IPv4, 0–128 for IPv6. */
  length: number;
}

/** Parses an address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes IPv4, as the
 *  datapath folds them. */
export function parseAddress(text: string): BinaryAddress {
  const bytes = Buffer.alloc(16);
  if (isIPv4(text)) {
    writeIpv4(text, bytes, 0);
    return { family: AF_INET, bytes };
  }
  if (!isIPv6(text) || text.includes('%')) {
    throw new DatapathError('MESHD_ERR_DATAPATH_BAD_ADDRESS', `"${text}" is not an IPv4 or IPv6 address`);
  }
  const [head = '', tail] = text.split('::');
  const headWords = words(head);
  const tailWords = tail === undefined ? [] : words(tail);
  const all = [...headWords, ...new Array<number>(8 - headWords.length - tailWords.length).fill(0), ...tailWords];
  all.forEach((w, i) => bytes.writeUInt16BE(w, i * 2));
  if (isV4Mapped(bytes)) {
    const v4 = Buffer.alloc(16);
    bytes.copy(v4, 0, 12, 16);
    return { family: AF_INET, bytes: v4 };
  }
  return { family: AF_INET6, bytes };
}

/** `a.b.c.d/n`, `ipv6/n`, or a bare address (a full-length prefix). Host bits are cleared. */
export function parsePrefix(text: string): BinaryPrefix {
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  const max = address.family === AF_INET ? 32 : 128;
  const lengthText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > max) {
    throw new DatapathError('MESHD_ERR_DATAPATH_BAD_ADDRESS', `"${text}": prefix length must be 0–${max}`);
  }
  const length = Number(lengthText);
  const bytes = Buffer.from(address.bytes);
  for (let bit = length; bit < max; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { family: address.family, bytes, length };
}

export function formatAddress(family: number, bytes: Buffer): string {
  if (family === AF_INET) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  // RFC 5952: the longest run of two or more zero groups becomes `::`.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

function writeIpv4(text: string, out: Buffer, offset: number): void {
  text.split('.').forEach((octet, i) => out.writeUInt8(Number(octet), offset + i));
}

function words(part: string): number[] {
  if (part === '') return [];
  const out: number[] = [];
  for (const group of part.split(':')) {
    if (group.includes('.')) {
      const b = Buffer.alloc(4);
      writeIpv4(group, b, 0);
      out.push(b.readUInt16BE(0), b.readUInt16BE(2));
    } else {
      out.push(Number.parseInt(group, 16));
    }
  }
  return out;
}

function isV4Mapped(b: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
