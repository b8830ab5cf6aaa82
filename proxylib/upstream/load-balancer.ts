// Endpoint choice for one request, per cluster: Envoy's round robin (weighted when weights differ),
// random (weighted) and least request (power of two choices, as Envoy's default choice_count 2).
// State is keyed by cluster name and reset when the endpoint list of that cluster changes identity,
// so an EDS update starts a fresh rotation instead of indexing into a stale list.
import type { EndpointAddress } from '../config/types.js';

export type LbPolicy = 'round_robin' | 'random' | 'least_request';

interface ClusterLbState {
  endpoints: readonly EndpointAddress[];
  weighted: boolean;
  next: number;
  /** Smooth weighted round robin (nginx's algorithm): current weights per endpoint. */
  current: number[];
  totalWeight: number;
}

function endpointKey(e: EndpointAddress): string {
  return `${e.address}|${e.port}`;
}

export class LoadBalancer {
  private readonly states = new Map<string, ClusterLbState>();
  /** Active requests (or connections, when callers do not report requests) per endpoint. */
  private readonly active = new Map<string, number>();

  choose(clusterName: string, policy: LbPolicy, endpoints: readonly EndpointAddress[]): EndpointAddress | undefined {
    if (endpoints.length === 0) return undefined;
    if (endpoints.length === 1) return endpoints[0];
    const state = this.stateOf(clusterName, endpoints);
    switch (policy) {
      case 'random':
        return this.chooseRandom(state);
      case 'least_request':
        return this.chooseLeastRequest(state);
      default:
        return this.chooseRoundRobin(state);
    }
  }

  /** Counts one active request (or connection) on an endpoint; the returned function ends it. */
  begin(address: string, port: number): () => void {
    const key = `${address}|${port}`;
    this.active.set(key, (this.active.get(key) ?? 0) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.active.get(key) ?? 1) - 1;
      if (n <= 0) this.active.delete(key);
      else this.active.set(key, n);
    };
  }

  activeOf(address: string, port: number): number {
    return this.active.get(`${address}|${port}`) ?? 0;
  }

  forget(clusterName: string): void {
    this.states.delete(clusterName);
  }

  private stateOf(clusterName: string, endpoints: readonly EndpointAddress[]): ClusterLbState {
    const existing = this.states.get(clusterName);
    if (existing && existing.endpoints === endpoints) return existing;
    const first = endpoints[0]?.weight ?? 1;
    const weighted = endpoints.some((e) => e.weight !== first);
    const state: ClusterLbState = {
      endpoints,
      weighted,
      // Envoy starts round robin at a random index so that many proxies do not hit one endpoint together.
      next: Math.floor(Math.random() * endpoints.length),
      current: endpoints.map(() => 0),
      totalWeight: endpoints.reduce((sum, e) => sum + Math.max(1, e.weight), 0),
    };
    this.states.set(clusterName, state);
    return state;
  }

  private chooseRoundRobin(state: ClusterLbState): EndpointAddress | undefined {
    const { endpoints } = state;
    if (!state.weighted) {
      const e = endpoints[state.next % endpoints.length];
      state.next = (state.next + 1) % endpoints.length;
      return e;
    }
    let best = -1;
    let bestWeight = -Infinity;
    for (let i = 0; i < endpoints.length; i++) {
      const w = (state.current[i] ?? 0) + Math.max(1, endpoints[i]?.weight ?? 1);
      state.current[i] = w;
      if (w > bestWeight) {
        bestWeight = w;
        best = i;
      }
    }
    state.current[best] = (state.current[best] ?? 0) - state.totalWeight;
    return endpoints[best];
  }

  private chooseRandom(state: ClusterLbState): EndpointAddress | undefined {
    const { endpoints } = state;
    if (!state.weighted) return endpoints[Math.floor(Math.random() * endpoints.length)];
    let r = Math.random() * state.totalWeight;
    for (const e of endpoints) {
      r -= Math.max(1, e.weight);
      if (r < 0) return e;
    }
    return endpoints[endpoints.length - 1];
  }

  private chooseLeastRequest(state: ClusterLbState): EndpointAddress | undefined {
    // Two random choices, keep the one with fewer active requests (weights scale the comparison
    // as in Envoy's unweighted-by-default P2C: active / weight).
    const { endpoints } = state;
    const a = endpoints[Math.floor(Math.random() * endpoints.length)];
    const b = endpoints[Math.floor(Math.random() * endpoints.length)];
    if (!a || !b) return a ?? b;
    const load = (e: EndpointAddress): number => (this.active.get(endpointKey(e)) ?? 0) / Math.max(1, e.weight);
    return load(b) < load(a) ? b : a;
  }
}
