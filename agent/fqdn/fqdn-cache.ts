// The learned DNS cache: name → IP → expiry, with a reverse index IP → names. Pure data: no
// kernel, no clock of its own (callers pass `nowMs`), so TTL, cap and eviction are unit-testable.
//
// Unlike Cilium's per-endpoint DNSHistory plus global NameManager cache, meshd keeps one node-wide
// cache: toFQDNs selects IPs through node-wide identities (`fqdn:<selector>` labels in the
// ipcache), so what one pod learned is what every pod's policy sees, as in Cilium's ipcache.

export interface FqdnCacheOptions {
  /** TTLs below this are raised to it (Cilium's tofqdns-min-ttl; default 0 = honour the answer). */
  minTtlSeconds: number;
  /** IPs kept per name; beyond it the least recently seen IP is evicted (Cilium's default 1000). */
  maxIpsPerName: number;
}

export interface CachedIp {
  /** Wall-clock ms (Date.now) when this name's record of the IP expires. */
  expiresAtMs: number;
  /** Wall-clock ms of the last answer that returned the IP for this name: the LRU order. */
  lastSeenMs: number;
}

/** An IP that lost its attribution to a name: by expiry or by the per-name cap. */
export interface DroppedIp {
  name: string;
  ip: string;
  expiresAtMs: number;
  reason: 'expired' | 'evicted';
}

export class FqdnCache {
  readonly #options: FqdnCacheOptions;
  readonly #byName = new Map<string, Map<string, CachedIp>>();
  readonly #namesByIp = new Map<string, Set<string>>();

  constructor(options: FqdnCacheOptions) {
    this.#options = options;
  }

  /**
   * Records that `ips` answer every name in `names` (the query name and its CNAME chain: Cilium
   * issue 20191). Returns the IPs the cap evicted.
   */
  add(names: readonly string[], ips: ReadonlyArray<{ ip: string; ttlSeconds: number }>, nowMs: number): DroppedIp[] {
    const dropped: DroppedIp[] = [];
    for (const name of names) {
      let records = this.#byName.get(name);
      if (!records) this.#byName.set(name, (records = new Map()));
      for (const { ip, ttlSeconds } of ips) {
        const ttl = Math.max(ttlSeconds, this.#options.minTtlSeconds);
        const expiresAtMs = nowMs + ttl * 1000;
        const known = records.get(ip);
        // A later answer never shortens what an earlier one granted (Cilium keeps the max expiry).
        // The Map is kept in least-recently-seen order: delete and re-insert moves the IP last.
        records.delete(ip);
        records.set(ip, { expiresAtMs: Math.max(expiresAtMs, known?.expiresAtMs ?? 0), lastSeenMs: nowMs });
        this.#index(ip, name);
      }
      while (records.size > this.#options.maxIpsPerName) {
        const [oldestIp, oldest] = records.entries().next().value as [string, CachedIp];
        this.#forget(name, oldestIp);
        dropped.push({ name, ip: oldestIp, expiresAtMs: oldest.expiresAtMs, reason: 'evicted' });
      }
    }
    return dropped;
  }

  /** Removes every record that expired at or before `nowMs`. */
  expire(nowMs: number): DroppedIp[] {
    const dropped: DroppedIp[] = [];
    for (const [name, records] of this.#byName) {
      for (const [ip, record] of records) {
        if (record.expiresAtMs > nowMs) continue;
        this.#forget(name, ip);
        dropped.push({ name, ip, expiresAtMs: record.expiresAtMs, reason: 'expired' });
      }
    }
    return dropped;
  }

  /** Puts back a persisted record as it was (restore after a restart), keeping LRU order by lastSeen. */
  restore(name: string, ip: string, record: CachedIp): void {
    let records = this.#byName.get(name);
    if (!records) this.#byName.set(name, (records = new Map()));
    records.set(ip, { ...record });
    this.#index(ip, name);
  }

  namesOf(ip: string): ReadonlySet<string> {
    return this.#namesByIp.get(ip) ?? EMPTY;
  }

  ipsOf(name: string): ReadonlyMap<string, CachedIp> {
    return this.#byName.get(name) ?? EMPTY_MAP;
  }

  /** The latest expiry of the IP over all its names; undefined when no name holds it. */
  expiryOf(ip: string): number | undefined {
    let latest: number | undefined;
    for (const name of this.namesOf(ip)) {
      const at = this.#byName.get(name)?.get(ip)?.expiresAtMs;
      if (at !== undefined && (latest === undefined || at > latest)) latest = at;
    }
    return latest;
  }

  names(): IterableIterator<string> {
    return this.#byName.keys();
  }

  ips(): IterableIterator<string> {
    return this.#namesByIp.keys();
  }

  #index(ip: string, name: string): void {
    let names = this.#namesByIp.get(ip);
    if (!names) this.#namesByIp.set(ip, (names = new Set()));
    names.add(name);
  }

  #forget(name: string, ip: string): void {
    const records = this.#byName.get(name);
    records?.delete(ip);
    if (records?.size === 0) this.#byName.delete(name);
    const names = this.#namesByIp.get(ip);
    names?.delete(name);
    if (names?.size === 0) this.#namesByIp.delete(ip);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
const EMPTY_MAP: ReadonlyMap<string, CachedIp> = new Map();
