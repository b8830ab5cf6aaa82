// GET /v1/fqdn/cache: the running agent's learned DNS cache, straight from FqdnManager (newer than
// fqdn-cache.json, which is saved after each answer).
import { listFqdnState } from '../fqdn/index.js';
import type { FqdnListing, FqdnState } from '../fqdn/index.js';

export type FqdnCacheSource = 'agent' | 'state-dir';

export interface FqdnCacheReport extends FqdnListing {
  /** agent: asked the running agent; state-dir: read its fqdn-cache.json (no agent answered). */
  source: FqdnCacheSource;
  stateFile?: string;
}

export function fqdnCacheOf(snapshot: FqdnState, nowMs = Date.now()): FqdnCacheReport {
  return { source: 'agent', ...listFqdnState(snapshot, nowMs) };
}

export function fqdnCounts(snapshot: FqdnState): { names: number; ips: number; zombies: number } {
  const ips = new Set<string>();
  for (const n of snapshot.names) for (const r of n.ips) ips.add(r.ip);
  return { names: snapshot.names.length, ips: ips.size, zombies: snapshot.zombies.length };
}
