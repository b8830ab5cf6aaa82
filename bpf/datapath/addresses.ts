// IP addresses and prefixes as the maps store them: 16 bytes, IPv4 in the first four (network
// order) and zeros after, with the family kept beside. Parsing and formatting are the policy
// layer's (node:net validation, IPv4-mapped IPv6 folded to IPv4 as the kernel sees it, RFC 5952
// text); this only lays the bytes out.
import { formatIpAddress, parseCidr, parseIp, type Prefix } from '../../policy/index.js';
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

/** Canonical text (RFC 5952) of an address as the maps store it; the policy layer formats. */
export function formatAddress(family: number, bytes: Buffer): string {
  return family === AF_INET
    ? formatIpAddress({ family: 4, bits: BigInt(bytes.readUInt32BE(0)) })
    : formatIpAddress({ family: 6, bits: BigInt(`0x${bytes.toString('hex', 0, 16)}`) });
}
