// FqdnManager: the learning and enforcement side of toFQDNs (issue 7), Cilium's NameManager in
// meshd. It implements the DNS proxy's DnsAnswerObserver: for each allowed answer it records the
// IPs under the query name and every CNAME of the chain, gives each IP that a toFQDNs selector
// selects a local identity (`fqdn:<selector>` labels plus the `cidr:` labels the policies need),
// writes ip/32 (or /128) → identity into the ipcache and rewrites the policies of the endpoints
// whose selectors now select it — all before onAnswer resolves, so the kernel allows the IP
// before the client sees the answer.
//
// Expiry versus open connections (Cilium issue 20650). meshd judges egress at the socket:
// connect() for TCP and connected UDP, and ingress only a connection's first packet
// (docs/adr/0003). Removing an IP from the ipcache (and its identity from the policy) therefore
// stops new connections and never cuts an open TCP or connected-UDP connection. The one flow
// judged per datagram is unconnected UDP (sendmsg), and for it the datapath records the last send
// per {socket, peer} (FlowActivity). An IP whose every name expired becomes a zombie: it stays in
// the ipcache while now < max(expiry, last unconnected-UDP send + udpFlowIdleMs) +
// idleGracePeriodMs, then it is removed. With the defaults (grace 0) an expired IP stops
// allowing new connections at the first garbage collection after its TTL.
//
// Restart (Cilium issue 30984). The kernel's maps are pinned and outlive the agent, and open
// connections are not re-judged, so a stopped agent drops nothing. `open` restores the cache from
// fqdn-cache.json before the proxy is started: each still-valid IP is allocated its identity
// again (the allocator's identities.json gives the same labels the same number, so the ipcache
// value and the installed policy do not change), written to the ipcache and the selector cache;
// IPs that expired while the agent was down go through the zombie rule, and fqdn entries the
// kernel holds that no restored IP explains (learned after the last save) are deleted.
import type { DnsAnswerEvent, DnsAnswerObserver } from '../../proxylib/index.js';
import type { IdentityAllocator, LabelSet, Policy, SelectorCache } from '../../policy/index.js';
import { fqdnIdentityLabels } from '../../policy/index.js';
import { FqdnError } from './errors.js';
import type { FqdnWarning } from './errors.js';
import { FqdnCache } from './fqdn-cache.js';
import type { DroppedIp } from './fqdn-cache.js';
import { FqdnSelectorSet } from './fqdn-selectors.js';
import { fqdnStatePath, loadFqdnState, saveFqdnState } from './fqdn-state-file.js';
import type { FqdnState } from './fqdn-state-file.js';
import type { FlowActivity } from './flow-activity.js';
import { canonicalIp, hostPrefix } from './host-prefix.js';
import type { PolicyUpdater } from './policy-regenerator.js';
import { rename } from 'node:fs/promises';

/** The ipcache as the manager writes it (Datapath.ipcache fits). */
export interface FqdnIpcache {
  upsert(prefix: string, identity: number): void;
  delete(prefix: string): boolean;
  /** When given, restore deletes fqdn entries the kernel holds that no restored IP explains. */
  entries?(): Array<[string, number]>;
}

export interface FqdnManagerOptions {
  /** Where fqdn-cache.json lives (the agent's state directory); without it nothing is persisted. */
  stateDir?: string | undefined;
  /** Opened on the same state directory, so restored identities keep their numbers. */
  allocator: IdentityAllocator;
  selectorCache: SelectorCache;
  ipcache: FqdnIpcache;
  policyUpdater: PolicyUpdater;
  /** The loaded policies: their toFQDNs selectors and CIDR prefixes. Change with updatePolicies. */
  policies: readonly Policy[];
  /** Lowest TTL honoured, seconds (Cilium tofqdns-min-ttl). Default 0. */
  minTtlSeconds?: number;
  /** IPs per name; the least recently seen is evicted beyond it. Default 1000. */
  maxIpsPerName?: number;
  /** How long an expired IP stays after its expiry or its last unconnected-UDP use. Default 0. */
  idleGracePeriodMs?: number;
  /** How long an unconnected UDP flow counts as open after its last datagram. Default 60 s (conntrack's UDP lifetime). */
  udpFlowIdleMs?: number;
  /** Garbage collection period; 0 = only when collectGarbage() is called. Default 1000 ms. */
  gcIntervalMs?: number;
  /** The datapath's record of unconnected-UDP use (UdpPeerActivity); without it only the grace period keeps expired IPs. */
  flowActivity?: FlowActivity | undefined;
  /** Wall clock, ms. */
  now?: () => number;
  onWarning?: (w: FqdnWarning) => void;
}

export const FQDN_DEFAULTS = {
  minTtlSeconds: 0,
  maxIpsPerName: 1000,
  idleGracePeriodMs: 0,
  udpFlowIdleMs: 60_000,
  gcIntervalMs: 1000,
} as const;

interface Installed {
  identity: number;
  labels: LabelSet;
  selectors: string[];
}

interface Zombie {
  expiredAtMs: number;
  /** The names it had, so a policy change can still re-label it. */
  names: string[];
}

export class FqdnManager implements DnsAnswerObserver {
  readonly #o: FqdnManagerOptions;
  readonly #cache: FqdnCache;
  readonly #settings: Required<Pick<FqdnManagerOptions, 'idleGracePeriodMs' | 'udpFlowIdleMs'>>;
  readonly #now: () => number;
  #selectors: FqdnSelectorSet;
  readonly #installed = new Map<string, Installed>();
  readonly #zombies = new Map<string, Zombie>();
  #timer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();
  #queuedSave: Promise<void> | undefined;
  #saveError: unknown;

  private constructor(options: FqdnManagerOptions) {
    const minTtlSeconds = options.minTtlSeconds ?? FQDN_DEFAULTS.minTtlSeconds;
    const maxIpsPerName = options.maxIpsPerName ?? FQDN_DEFAULTS.maxIpsPerName;
    const idleGracePeriodMs = options.idleGracePeriodMs ?? FQDN_DEFAULTS.idleGracePeriodMs;
    const udpFlowIdleMs = options.udpFlowIdleMs ?? FQDN_DEFAULTS.udpFlowIdleMs;
    for (const [name, value, min] of [
      ['minTtlSeconds', minTtlSeconds, 0],
      ['maxIpsPerName', maxIpsPerName, 1],
      ['idleGracePeriodMs', idleGracePeriodMs, 0],
      ['udpFlowIdleMs', udpFlowIdleMs, 0],
      ['gcIntervalMs', options.gcIntervalMs ?? FQDN_DEFAULTS.gcIntervalMs, 0],
    ] as const) {
      if (!Number.isFinite(value) || value < min) {
        throw new FqdnError('MESHD_ERR_FQDN_INVALID_OPTION', `${name} must be a number >= ${min}, not ${value}`);
      }
    }
    this.#o = options;
    this.#cache = new FqdnCache({ minTtlSeconds, maxIpsPerName });
    this.#settings = { idleGracePeriodMs, udpFlowIdleMs };
    this.#now = options.now ?? Date.now;
    this.#selectors = FqdnSelectorSet.fromPolicies(options.policies);
  }

  /**
   * Restores the persisted cache (writing its IPs to the ipcache, selector cache and policies)
   * and starts the garbage collector. Start the DNS proxy only after this resolves. A corrupt
   * state file is moved aside and reported in `warnings`: the agent starts, learning afresh.
   */
  static async open(options: FqdnManagerOptions): Promise<{ manager: FqdnManager; warnings: FqdnWarning[] }> {
    const manager = new FqdnManager(options);
    const warnings: FqdnWarning[] = [];
    if (options.stateDir !== undefined) {
      let state: FqdnState | undefined;
      try {
        state = await loadFqdnState(options.stateDir);
      } catch (err) {
        if (!(err instanceof FqdnError)) throw err;
        let message = err.message;
        if (err.code === 'MESHD_ERR_FQDN_STATE_CORRUPT') {
          const path = fqdnStatePath(options.stateDir);
          const aside = `${path}.corrupt-${Date.now()}`;
          message += await rename(path, aside).then(
            () => `; moved to ${aside}, learning afresh`,
            (e: Error) => `; could not be moved aside (${e.message})`,
          );
        }
        warnings.push({ code: err.code, message });
      }
      manager.#restore(state);
    }
    const period = options.gcIntervalMs ?? FQDN_DEFAULTS.gcIntervalMs;
    if (period > 0) {
      manager.#timer = setInterval(() => {
        manager.collectGarbage().catch((err: unknown) => manager.#warn(err));
      }, period);
      manager.#timer.unref();
    }
    return { manager, warnings };
  }

  /** The DnsAnswerObserver hook: resolves once the kernel allows the selected IPs (and the cache is saved). */
  async onAnswer(answer: DnsAnswerEvent): Promise<void> {
    const now = this.#now();
    const names = [...new Set([answer.queryName, ...answer.names].map(normalizeName).filter((n) => n !== ''))];
    const ips = answer.addresses.filter((a) => hostPrefix(a.ip) !== undefined).map((a) => ({ ip: canonicalIp(a.ip), ttlSeconds: Math.max(0, a.ttl) }));
    if (names.length === 0 || ips.length === 0) return;
    const evicted = this.#cache.add(names, ips, now);
    this.#bury(evicted, now);
    this.#reconcile([...ips.map((i) => i.ip), ...evicted.map((d) => d.ip)]);
    // The reply waits for the save too (bounded by the proxy's max delay): an IP a client was told
    // about is then restored by a restarted agent.
    await this.#save();
  }

  /** New policies: new selectors and prefixes; every known IP is re-labelled (and removed from the ipcache if none selects it). */
  updatePolicies(policies: readonly Policy[]): void {
    this.#selectors = FqdnSelectorSet.fromPolicies(policies);
    this.#reconcile([...this.#cache.ips(), ...this.#zombies.keys()]);
    void this.#save().catch(() => undefined);
  }

  /** Expires TTLs, and removes zombies no flow keeps. Runs on the timer; tests call it directly. */
  async collectGarbage(): Promise<{ expired: string[]; removed: string[] }> {
    const now = this.#now();
    const dropped = this.#cache.expire(now);
    this.#bury(dropped, now);
    const removed = this.#collectZombies(now);
    this.#reconcile([...dropped.map((d) => d.ip), ...removed]);
    if (dropped.length > 0 || removed.length > 0) await this.#save();
    return { expired: [...new Set(dropped.map((d) => d.ip))], removed };
  }

  /** The live view: name → IPs with expiry, and what each IP is given. */
  snapshot(): FqdnState {
    const names = [...this.#cache.names()].map((name) => ({
      name,
      ips: [...this.#cache.ipsOf(name)].map(([ip, r]) => ({ ip, expiresAtMs: r.expiresAtMs, lastSeenMs: r.lastSeenMs })),
    }));
    const ips = [...this.#installed].map(([ip, i]) => ({ ip, identity: i.identity, selectors: i.selectors }));
    const zombies = [...this.#zombies].map(([ip, z]) => ({ ip, expiredAtMs: z.expiredAtMs, names: z.names }));
    return { savedAtMs: this.#now(), names, ips, zombies };
  }

  /** The identity the ipcache was given for an IP, if any selector selects it. */
  identityOf(ip: string): number | undefined {
    return this.#installed.get(canonicalIp(ip))?.identity;
  }

  /** Resolves once every change so far is on disk; rejects when a save failed. */
  async flush(): Promise<void> {
    await this.#saving;
    const err = this.#saveError;
    this.#saveError = undefined;
    if (err !== undefined) throw err;
  }

  /** Stops the collector and saves. The kernel entries stay: a restarted agent restores them. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#save();
    await this.flush();
  }

  // IPs that lost their last name become zombies, if the kernel has them (an unselected IP has
  // nothing to keep). Evictions are expiries now.
  #bury(dropped: readonly DroppedIp[], now: number): void {
    for (const d of dropped) {
      if (this.#cache.namesOf(d.ip).size > 0 || !this.#installed.has(d.ip)) continue;
      const expiredAtMs = d.reason === 'evicted' ? now : d.expiresAtMs;
      const z = this.#zombies.get(d.ip);
      if (z) {
        z.expiredAtMs = Math.max(z.expiredAtMs, expiredAtMs);
        if (!z.names.includes(d.name)) z.names.push(d.name);
      } else {
        this.#zombies.set(d.ip, { expiredAtMs, names: [d.name] });
      }
    }
  }

  #collectZombies(now: number): string[] {
    if (this.#zombies.size === 0) return [];
    let activity = new Map<string, number>();
    try {
      activity = this.#o.flowActivity?.lastUse(new Set(this.#zombies.keys())) ?? activity;
    } catch (err) {
      // Without the datapath's record only expiry and the grace period count; said once per collection.
      this.#warn(new FqdnError('MESHD_ERR_FQDN_FLOW_ACTIVITY', `cannot read unconnected-UDP activity: ${(err as Error).message}`, { cause: err }));
    }
    const removed: string[] = [];
    for (const [ip, z] of this.#zombies) {
      const lastUse = activity.get(ip);
      const keepUntil = Math.max(z.expiredAtMs, lastUse === undefined ? -Infinity : lastUse + this.#settings.udpFlowIdleMs) + this.#settings.idleGracePeriodMs;
      if (now < keepUntil) continue;
      this.#zombies.delete(ip);
      removed.push(ip);
    }
    return removed;
  }

  /**
   * Brings the kernel in line with the cache for `ips`. Order matters for flows: identities the
   * policy must allow are added to the selector cache and the policies rewritten first, then the
   * ipcache is pointed at them, and only then are replaced identities removed from the policies.
   * So no address ever maps to an identity the installed policy does not know yet.
   */
  #reconcile(ips: Iterable<string>): void {
    const added: Array<[number, LabelSet]> = [];
    const removed: number[] = [];
    const writes: Array<[string, number]> = [];
    const deletes: string[] = [];
    for (const ip of new Set(ips)) {
      const prefix = hostPrefix(ip);
      if (!prefix) continue;
      const live = this.#cache.namesOf(ip);
      if (live.size > 0) this.#zombies.delete(ip);
      const names = live.size > 0 ? live : (this.#zombies.get(ip)?.names ?? []);
      const selectors = this.#selectors.selectorsFor(names);
      const current = this.#installed.get(ip);
      const labels = selectors.length === 0 ? undefined : fqdnIdentityLabels(selectors, prefix, this.#selectors.prefixes);
      if (labels?.canonicalKey === current?.labels.canonicalKey) continue;
      if (labels) {
        let id: number;
        try {
          ({ id } = this.#o.allocator.allocate(labels));
        } catch (err) {
          // Identities exhausted: this IP stays as it was (not allowed if it was new); the rest go on.
          this.#warn(err);
          continue;
        }
        added.push([id, labels]);
        writes.push([prefix.canonical, id]);
        this.#installed.set(ip, { identity: id, labels, selectors });
      } else {
        deletes.push(prefix.canonical);
        this.#installed.delete(ip);
        this.#zombies.delete(ip);
      }
      if (current) {
        const released = this.#o.allocator.release(current.labels);
        if (released?.refCount === 0) removed.push(current.identity);
      }
    }
    if (added.length === 0 && removed.length === 0 && writes.length === 0 && deletes.length === 0) return;
    const changed = new Set<string>();
    const stop = this.#o.selectorCache.onChange((key) => void changed.add(key));
    try {
      this.#o.selectorCache.update(added);
      this.#flushSelections(changed);
      for (const [prefix, id] of writes) this.#o.ipcache.upsert(prefix, id);
      for (const prefix of deletes) this.#o.ipcache.delete(prefix);
      this.#o.selectorCache.update([], removed);
      this.#flushSelections(changed);
    } finally {
      stop();
    }
  }

  #flushSelections(changed: Set<string>): void {
    if (changed.size === 0) return;
    const keys = new Set(changed);
    changed.clear();
    this.#o.policyUpdater.selectionsChanged(keys);
  }

  #restore(state: FqdnState | undefined): void {
    const now = this.#now();
    const previouslyInstalled = new Map((state?.ips ?? []).map((i) => [canonicalIp(i.ip), i]));
    const expired: DroppedIp[] = [];
    for (const { name, ips } of state?.names ?? []) {
      // Oldest first, so the cache's least-recently-seen order is the saved one.
      for (const r of [...ips].sort((a, b) => a.lastSeenMs - b.lastSeenMs)) {
        const ip = canonicalIp(r.ip);
        if (r.expiresAtMs > now) this.#cache.restore(name, ip, { expiresAtMs: r.expiresAtMs, lastSeenMs: r.lastSeenMs });
        else expired.push({ name, ip, expiresAtMs: r.expiresAtMs, reason: 'expired' });
      }
    }
    for (const z of state?.zombies ?? []) this.#zombies.set(canonicalIp(z.ip), { expiredAtMs: z.expiredAtMs, names: [...z.names] });
    for (const d of expired) {
      if (this.#cache.namesOf(d.ip).size > 0 || !previouslyInstalled.has(d.ip)) continue;
      const z = this.#zombies.get(d.ip);
      if (z) {
        z.expiredAtMs = Math.max(z.expiredAtMs, d.expiresAtMs);
        if (!z.names.includes(d.name)) z.names.push(d.name);
      } else this.#zombies.set(d.ip, { expiredAtMs: d.expiresAtMs, names: [d.name] });
    }
    this.#collectZombies(now);
    this.#reconcile([...this.#cache.ips(), ...this.#zombies.keys()]);
    // Entries the previous run wrote that nothing explains now: expired while the agent was down,
    // or learned after the last save.
    const stale = new Set<string>();
    for (const ip of previouslyInstalled.keys()) if (!this.#installed.has(ip)) stale.add(ip);
    for (const [prefix, id] of this.#o.ipcache.entries?.() ?? []) {
      const ip = prefix.slice(0, prefix.lastIndexOf('/'));
      if (this.#installed.has(ip)) continue;
      const labels = this.#o.allocator.lookupById(id)?.labels;
      if (labels?.toArray().some((l) => l.source === 'fqdn')) stale.add(ip);
    }
    for (const ip of stale) {
      const prefix = hostPrefix(ip);
      if (prefix) this.#o.ipcache.delete(prefix.canonical);
    }
  }

  #warn(err: unknown): void {
    const code = (err as { code?: unknown }).code;
    this.#o.onWarning?.({ code: typeof code === 'string' ? code : undefined, message: err instanceof Error ? err.message : String(err) });
  }

  // Saves are chained and coalesced: answers arriving while a write runs share the next one.
  #save(): Promise<void> {
    const stateDir = this.#o.stateDir;
    if (stateDir === undefined) return Promise.resolve();
    if (this.#queuedSave) return this.#queuedSave;
    const next = this.#saving.then(async () => {
      this.#queuedSave = undefined;
      try {
        await saveFqdnState(stateDir, this.snapshot());
      } catch (err) {
        this.#saveError = new FqdnError('MESHD_ERR_FQDN_STATE_WRITE', `cannot save ${fqdnStatePath(stateDir)}: ${(err as Error).message}`, { cause: err });
        this.#warn(this.#saveError);
      }
    });
    this.#queuedSave = next;
    this.#saving = next;
    return next;
  }
}

function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
