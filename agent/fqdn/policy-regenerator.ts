// Rewrites the kernel policy of the endpoints whose selectors changed selections: the piece that
// turns "identity 16777220 now carries fqdn:api.example.com" into a new LPM trie for every
// endpoint with a toFQDNs rule on that name. It is the same chain the datapath tests use
// (Repository → SelectorCache → translateEndpointPolicy → Datapath), kept per endpoint with the
// selector keys its last translation used, so one learned IP rewrites only the endpoints that can
// see it. FqdnManager only needs `selectionsChanged`.
//
// Writes go through Datapath.updatePolicies when the datapath has it: a learned IP adds entries
// of one peer identity, which the datapath writes into the installed trie in place (no RCU grace
// period: microseconds instead of the swap's ~16 ms); whatever cannot change in place safely,
// and endpoints without a trie yet, are swapped in with ONE batch for the whole call.
import { translateEndpointPolicy } from '../../bpf/index.js';
import type { PolicyMapContent, PolicyTranslationOptions } from '../../bpf/index.js';
import { selectorKey } from '../../policy/index.js';
import type { CachedSelector, LabelSelector, Repository, SelectorCache } from '../../policy/index.js';

/** What FqdnManager calls after the selector cache changed; must have written the kernel when it returns. */

export interface PolicyUpdater {
  selectionsChanged(selectorKeys: ReadonlySet<string>): void;
}

export interface EndpointPolicyRegeneratorOptions {
  repository: Repository;
  selectorCache: SelectorCache;
  /** The kernel datapath (bpf Datapath). updatePolicies / replacePolicies are used when present;
   *  replacePolicy alone works too, one swap per endpoint. */
  datapath: PolicyWriter;
  /** The datapath endpoint id of a repository endpoint (`namespace/name`); undefined = not on this node. */
  endpointIdOf(endpoint: string): number | undefined;
  proxyPortOf: PolicyTranslationOptions['proxyPortOf'];
}

export interface PolicyWriter {
  replacePolicy(endpointId: number, content: PolicyMapContent): void;
  replacePolicies?(items: ReadonlyArray<{ endpointId: number; content: PolicyMapContent }>): void;
  updatePolicies?(items: ReadonlyArray<{ endpointId: number; content: PolicyMapContent }>): unknown;
}

export class EndpointPolicyRegenerator implements PolicyUpdater {
  readonly #o: EndpointPolicyRegeneratorOptions;
  readonly #registered = new Map<string, CachedSelector>();
  /** Endpoint → selector keys its installed policy was translated with. */
  readonly #usedKeys = new Map<string, Set<string>>();

  constructor(options: EndpointPolicyRegeneratorOptions) {
    this.#o = options;
  }

  /** Translates and installs one endpoint's policy; undefined when the endpoint is unknown here. */
  regenerate(endpoint: string): PolicyMapContent | undefined {
    return this.regenerateMany([endpoint]).get(endpoint);
  }

  /** Translates every given endpoint, then writes them all in one datapath call (in place where
   *  safe, the rest swapped with one batch). Endpoints unknown here are left out of the result. */
  regenerateMany(endpoints: Iterable<string>): Map<string, PolicyMapContent> {
    const out = new Map<string, PolicyMapContent>();
    const items: Array<{ endpointId: number; content: PolicyMapContent }> = [];
    const used = new Map<string, Set<string>>();
    for (const endpoint of new Set(endpoints)) {
      const id = this.#o.endpointIdOf(endpoint);
      const policy = this.#o.repository.endpointPolicy(endpoint);
      if (id === undefined || policy === undefined) continue;
      const keys = new Set<string>();
      const content = translateEndpointPolicy(policy, {
        identitiesOf: (selector) => {
          const cached = this.#selector(selector);
          keys.add(cached.key);
          return cached.selections();
        },
        proxyPortOf: this.#o.proxyPortOf,
      });
      items.push({ endpointId: id, content });
      used.set(endpoint, keys);
      out.set(endpoint, content);
    }
    if (items.length === 0) return out;
    const dp = this.#o.datapath;
    if (dp.updatePolicies) dp.updatePolicies(items);
    else if (dp.replacePolicies) dp.replacePolicies(items);
    else for (const { endpointId, content } of items) dp.replacePolicy(endpointId, content);
    for (const [endpoint, keys] of used) this.#usedKeys.set(endpoint, keys);
    return out;
  }

  regenerateAll(): void {
    this.regenerateMany(this.#o.repository.listEndpoints().map((ep) => ep.id));
  }

  selectionsChanged(selectorKeys: ReadonlySet<string>): void {
    const affected: string[] = [];
    for (const [endpoint, used] of this.#usedKeys) {
      for (const key of selectorKeys) {
        if (used.has(key)) {
          affected.push(endpoint);
          break;
        }
      }
    }
    this.regenerateMany(affected);
  }

  /** Forgets an endpoint that left this node (its kernel state is the datapath's to remove). */
  forget(endpoint: string): void {
    this.#usedKeys.delete(endpoint);
  }

  // Registered once and kept: the regenerator is the selectors' one user, for as long as it lives.
  #selector(selector: LabelSelector): CachedSelector {
    const key = selectorKey(selector);
    let cached = this.#registered.get(key);
    if (!cached) this.#registered.set(key, (cached = this.#o.selectorCache.register(selector)));
    return cached;
  }
}
