// What `meshd fqdn cache list` shows: name → IPs → remaining TTL → selectors (and identity),
// computed from a state snapshot (the persisted file, or FqdnManager.snapshot()).
import type { FqdnState } from './fqdn-state-file.js';

export interface FqdnListingIp {
  ip: string;
  /** Seconds until this name's record expires, rounded up; 0 once expired. */
  ttlSeconds: number;
  expiresAt: string;
  /** The local identity in the ipcache; absent when no toFQDNs selector selects the IP. */
  identity?: number;
  selectors: string[];
}

export interface FqdnListing {
  names: Array<{ name: string; ips: FqdnListingIp[] }>;
  /** Expired IPs still allowed because a flow to them was active. */
  zombies: Array<{ ip: string; expiredAt: string; names: string[]; identity?: number; selectors: string[] }>;
  savedAt: string;
}

export function listFqdnState(state: FqdnState, nowMs: number): FqdnListing {
  const installed = new Map(state.ips.map((i) => [i.ip, i]));
  const given = (ip: string) => {
    const i = installed.get(ip);
    return i ? { identity: i.identity, selectors: [...i.selectors] } : { selectors: [] as string[] };
  };
  return {
    names: [...state.names]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(({ name, ips }) => ({
        name,
        ips: [...ips]
          .sort((a, b) => a.ip.localeCompare(b.ip))
          .map((r) => ({ ip: r.ip, ttlSeconds: Math.max(0, Math.ceil((r.expiresAtMs - nowMs) / 1000)), expiresAt: new Date(r.expiresAtMs).toISOString(), ...given(r.ip) })),
      })),
    zombies: state.zombies.map((z) => ({ ip: z.ip, expiredAt: new Date(z.expiredAtMs).toISOString(), names: [...z.names], ...given(z.ip) })),
    savedAt: new Date(state.savedAtMs).toISOString(),
  };
}

/** A table, one IP per line; `-` where an IP is learned but no selector selects it. */
export function renderFqdnListing(listing: FqdnListing): string {
  const rows: string[][] = [['NAME', 'IP', 'TTL', 'IDENTITY', 'SELECTORS']];
  for (const { name, ips } of listing.names) {
    for (const ip of ips) rows.push([name, ip.ip, `${ip.ttlSeconds}s`, ip.identity === undefined ? '-' : String(ip.identity), ip.selectors.join(',') || '-']);
  }
  for (const z of listing.zombies) {
    rows.push([z.names.join(',') || '-', z.ip, 'expired', z.identity === undefined ? '-' : String(z.identity), z.selectors.join(',') || '-']);
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const lines = rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  '));
  if (rows.length === 1) lines.push('(no learned names)');
  lines.push('', `saved ${listing.savedAt}`);
  return lines.join('\n') + '\n';
}
