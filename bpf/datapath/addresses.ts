// IP addresses and prefixes as the maps store them: 16 bytes, IPv4 in the first four (network
// order) and zeros after, with the family kept beside. Parsing is the policy layer's (node:net
// validation, IPv4-mapped IPv6 folded to IPv4 as the kernel sees it); this only lays it out.
import { parseCidr, parseIp, type Prefix } from '../../policy/index.js';
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
  const parsed = parseIp(text);
  if (!parsed.ok) throw new DatapathError('MESHD_ERR_DATAPATH_BAD_ADDRESS', parsed.error);
  const { family, bytes } = toBinary(parsed.prefix);
  return { family, bytes };
}

/** `a.b.c.d/n`, `ipv6/n`, or a bare address (a full-length prefix). Host bits are cleared. */
export function parsePrefix(text: string): BinaryPrefix {
  const parsed = text.includes('/') ? parseCidr(text) : parseIp(text);
  if (!parsed.ok) throw new DatapathError('MESHD_ERR_DATAPATH_BAD_ADDRESS', `"${text}": ${parsed.error}`);
  return toBinary(parsed.prefix);
}

function toBinary(prefix: Prefix): BinaryPrefix {
  const bytes = Buffer.alloc(16);
  const width = prefix.family === 4 ? 4 : 16;
  let bits = prefix.bits;
  for (let i = width - 1; i >= 0; i--) {
    bytes[i] = Number(bits & 0xffn);
    bits >>= 8n;
  }
  return { family: prefix.family === 4 ? AF_INET : AF_INET6, bytes, length: prefix.length };
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
