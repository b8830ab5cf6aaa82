// The toFQDNs selectors of the loaded policies, compiled, and the CIDR prefixes the policies
// name (an FQDN identity carries their `cidr:` labels too, so a toCIDR rule still selects a
// learned IP). Rebuilt whenever the policies change.
import { compileFqdnMatcher, fqdnSelectorString, parseCidr } from '../../policy/index.js';
import type { FqdnSelector, Policy, Prefix } from '../../policy/index.js';

export class FqdnSelectorSet {
  /** Label key (`fqdn:<this>`) → matcher. */
  readonly #matchers = new Map<string, (name: string) => boolean>();
  readonly prefixes: readonly Prefix[];

  constructor(selectors: readonly FqdnSelector[], prefixes: readonly Prefix[] = []) {
    for (const s of selectors) {
      const key = fqdnSelectorString(s);
      if (key === '' || this.#matchers.has(key)) continue;
      const matcher = compileFqdnMatcher(s);
      // An invalid selector never loads (the loader rejects it); compileFqdnMatcher makes it match nothing anyway.
      this.#matchers.set(key, (name) => matcher.matches(name));
    }
    this.prefixes = prefixes;
  }

  static fromPolicies(policies: readonly Policy[]): FqdnSelectorSet {
    const selectors: FqdnSelector[] = [];
    const prefixes = new Map<string, Prefix>();
    for (const policy of policies) {
      for (const rule of policy.rules) {
        for (const peerRule of [...rule.ingress, ...rule.ingressDeny, ...rule.egress, ...rule.egressDeny]) {
          const peers = peerRule.peers;
          if (peers.kind === 'fqdns') selectors.push(...peers.fqdns);
          if (peers.kind !== 'cidr') continue;
          for (const c of peers.cidrs) {
            for (const text of [...(c.cidr !== undefined ? [c.cidr] : []), ...c.except]) {
              const parsed = parseCidr(text);
              if (parsed.ok) prefixes.set(parsed.prefix.canonical, parsed.prefix);
            }
          }
        }
      }
    }
    return new FqdnSelectorSet(selectors, [...prefixes.values()]);
  }

  get keys(): string[] {
    return [...this.#matchers.keys()];
  }

  /** The selector keys matching any of `names`, sorted (a stable label set). */
  selectorsFor(names: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const name of names) for (const [key, matches] of this.#matchers) if (!out.has(key) && matches(name)) out.add(key);
    return [...out].sort();
  }
}
