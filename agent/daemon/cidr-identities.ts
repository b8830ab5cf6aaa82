// CIDR identities for toCIDR/fromCIDR rules (Cilium's "CIDR identities"): every prefix a loaded
// policy names gets a local identity carrying its `cidr:` labels (and those of the policy prefixes
// containing it), in the selector cache and as prefix → identity in the kernel's ipcache, so the
// same selectors, the kernel's longest-prefix lookup and the xDS IP sets treat a CIDR peer like any
// other identity. Kept in step with the policies on every policy change; entries of prefixes no
// policy names any more are removed (also those a previous agent left, found by their labels).
import { cidrIdentityLabels, parseCidr } from '../../policy/index.js';
import type { IdentityAllocator, LabelSet, Policy, Prefix, SelectorCache } from '../../policy/index.js';
import { FqdnSelectorSet } from '../fqdn/index.js';

export interface CidrIpcache {
  upsert(prefix: string, identity: number): void;
  delete(prefix: string): boolean;
  entries(): Array<[string, number]>;
}

interface Held {
  identity: number;
  labels: LabelSet;
}

export class CidrIdentities {
  readonly #allocator: IdentityAllocator;
  readonly #selectorCache: SelectorCache;
  readonly #ipcache: CidrIpcache;
  readonly #held = new Map<string, Held>();
  #first = true;

  constructor(o: { allocator: IdentityAllocator; selectorCache: SelectorCache; ipcache: CidrIpcache }) {
    this.#allocator = o.allocator;
    this.#selectorCache = o.selectorCache;
    this.#ipcache = o.ipcache;
  }

  /** Prefixes currently given an identity, canonical text → identity. */
  list(): Array<{ prefix: string; identity: number }> {
    return [...this.#held].map(([prefix, h]) => ({ prefix, identity: h.identity }));
  }

  /** Brings identities and ipcache in line with the prefixes of `policies`. */
  update(policies: readonly Policy[]): void {
    const prefixes = FqdnSelectorSet.fromPolicies(policies).prefixes.filter((p) => p.length > 0);
    const wanted = new Map<string, Prefix>(prefixes.map((p) => [p.canonical, p]));
    const owned = this.#ownedElsewhere();
    for (const [text, held] of [...this.#held]) {
      const labels = wanted.has(text) ? cidrIdentityLabels(wanted.get(text)!, prefixes) : undefined;
      if (labels && labels.canonicalKey === held.labels.canonicalKey) continue;
      this.#drop(text, held);
    }
    for (const [text, prefix] of wanted) {
      // A pod's own address (or a learned FQDN IP) keeps its identity: the more specific owner wins.
      if (this.#held.has(text) || owned.has(text)) continue;
      const labels = cidrIdentityLabels(prefix, prefixes);
      const { id, isNew } = this.#allocator.allocate(labels);
      if (isNew || this.#selectorCache.labelsOf(id) === undefined) this.#selectorCache.addIdentity(id, labels);
      this.#ipcache.upsert(text, id);
      this.#held.set(text, { identity: id, labels });
    }
    if (this.#first) {
      this.#first = false;
      this.#removeLeftovers(wanted);
    }
  }

  /** ipcache entries some other part put there (pods, FQDN IPs, the host). */
  #ownedElsewhere(): Set<string> {
    const out = new Set<string>();
    for (const [prefix, identity] of this.#ipcache.entries()) {
      const canonical = canonicalOf(prefix);
      if (this.#held.get(canonical)?.identity === identity) continue;
      if (!isPureCidrIdentity(this.#allocator.lookupById(identity)?.labels)) out.add(canonical);
    }
    return out;
  }

  /** A previous agent's CIDR entries for prefixes no policy names now. */
  #removeLeftovers(wanted: ReadonlyMap<string, Prefix>): void {
    for (const [prefix, identity] of this.#ipcache.entries()) {
      const canonical = canonicalOf(prefix);
      if (wanted.has(canonical) || this.#held.has(canonical)) continue;
      if (isPureCidrIdentity(this.#allocator.lookupById(identity)?.labels)) this.#ipcache.delete(prefix);
    }
  }

  #drop(text: string, held: Held): void {
    this.#ipcache.delete(text);
    const released = this.#allocator.release(held.labels);
    if (released && released.refCount === 0) this.#selectorCache.removeIdentity(released.id);
    this.#held.delete(text);
  }
}

/** Labels of a CIDR identity only (world + cidr:), not an FQDN one (those also carry fqdn:). */
function isPureCidrIdentity(labels: LabelSet | undefined): boolean {
  if (!labels || labels.size === 0) return false;
  let hasCidr = false;
  for (const l of labels) {
    if (l.source === 'cidr') hasCidr = true;
    else if (l.source !== 'reserved') return false;
  }
  return hasCidr;
}

function canonicalOf(prefix: string): string {
  const parsed = parseCidr(prefix);
  return parsed.ok ? parsed.prefix.canonical : prefix;
}
