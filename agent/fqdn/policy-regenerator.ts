// Rewrites the kernel policy of the endpoints whose selectors changed selections: the piece that
// turns "identity 16777220 now carries fqdn:api.example.com" into a new LPM trie for every
// endpoint with a toFQDNs rule on that name. It is the same chain the datapath tests use
// (Repository → SelectorCache → translateEndpointPolicy → Datapath.replacePolicy), kept per
// endpoint with the selector keys its last translation used, so one learned IP rewrites only the
// endpoints that can see it. The agent's daemon will own this chain; FqdnManager only needs
// `selectionsChanged`.
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
  datapath: { replacePolicy(endpointId: number, content: PolicyMapContent): void };
  /** The datapath endpoint id of a repository endpoint (`namespace/name`); undefined = not on this node. */
  endpointIdOf(endpoint: string): number | undefined;
  proxyPortOf: PolicyTranslationOptions['proxyPortOf'];
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
    const id = this.#o.endpointIdOf(endpoint);
    const policy = this.#o.repository.endpointPolicy(endpoint);
    if (id === undefined || policy === undefined) return undefined;
    const used = new Set<string>();
    const content = translateEndpointPolicy(policy, {
      identitiesOf: (selector) => {
        const cached = this.#selector(selector);
        used.add(cached.key);
        return cached.selections();
      },
      proxyPortOf: this.#o.proxyPortOf,
    });
    this.#o.datapath.replacePolicy(id, content);
    this.#usedKeys.set(endpoint, used);
    return content;
  }

  regenerateAll(): void {
    for (const ep of this.#o.repository.listEndpoints()) this.regenerate(ep.id);
  }

  selectionsChanged(selectorKeys: ReadonlySet<string>): void {
    for (const [endpoint, used] of this.#usedKeys) {
      for (const key of selectorKeys) {
        if (!used.has(key)) continue;
        this.regenerate(endpoint);
        break;
      }
    }
  }

  // Registered once and kept: the regenerator is the selectors' one user, for as long as it lives.
  #selector(selector: LabelSelector): CachedSelector {
    const key = selectorKey(selector);
    let cached = this.#registered.get(key);
    if (!cached) this.#registered.set(key, (cached = this.#o.selectorCache.register(selector)));
    return cached;
  }
}
