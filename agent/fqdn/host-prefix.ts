// One spelling per address: the cache, the state file, the ipcache and the datapath's maps must
// agree on it, and dns-packet or a kernel map may spell an IPv6 address differently.
import { parseIp } from '../../policy/index.js';
import type { Prefix } from '../../policy/index.js';

/** The address's host prefix (/32 or /128; a v4-mapped IPv6 address is its IPv4 address); undefined when not an IP. */
export function hostPrefix(ip: string): Prefix | undefined {
  const parsed = parseIp(ip);
  return parsed.ok ? parsed.prefix : undefined;
}

/** RFC 5952 text of an address, without the prefix length; the input unchanged when it is not an IP. */
export function canonicalIp(ip: string): string {
  const prefix = hostPrefix(ip);
  return prefix ? prefix.canonical.slice(0, prefix.canonical.lastIndexOf('/')) : ip;
}
