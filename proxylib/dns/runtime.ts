// The data plane's DNS settings where the DNS filter's connections find them. The UDP listener is
// handed them directly (ListenerManager → UdpListener); a TCP connection reaches the filter through
// the generic meshd-filter hook (MeshdFilterConnection), which carries no DNS settings, so they are
// registered here under the data plane's ClusterManager — one per data plane, present on every
// connection — and looked up from it. (A `dns` field on MeshdFilterConnection would replace this;
// requested in the issue-7 report.)
import type { ClusterManager } from '../upstream/types.js';
import { DEFAULT_DNS_RESPONSE_MAX_DELAY_MS, type DnsAnswerObserver, type DnsDataPlaneOptions } from './types.js';

export interface DnsRuntime {
  observer: DnsAnswerObserver | undefined;
  responseMaxDelayMs: number;
}

const runtimes = new WeakMap<ClusterManager, DnsRuntime>();

export function dnsRuntimeOf(options: DnsDataPlaneOptions | undefined): DnsRuntime {
  const delay = options?.dnsResponseMaxDelayMs;
  return {
    observer: options?.dnsAnswerObserver,
    responseMaxDelayMs: delay !== undefined && Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_DNS_RESPONSE_MAX_DELAY_MS,
  };
}

/** Called by the ListenerManager for its data plane. */
export function registerDnsRuntime(clusters: ClusterManager, runtime: DnsRuntime): void {
  runtimes.set(clusters, runtime);
}

/** The data plane's DNS runtime; without one (a bare ListenerManager in a test) no observer and the default delay. */
export function dnsRuntimeFor(clusters: ClusterManager): DnsRuntime {
  return runtimes.get(clusters) ?? dnsRuntimeOf(undefined);
}
