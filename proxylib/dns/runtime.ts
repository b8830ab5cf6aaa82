// What one data plane (one ListenerManager) holds for its DNS filters: the settings from
// BuiltinProxy.start (answer observer, response max delay) and the upstream UDP sockets its queries
// share. The ListenerManager creates it, hands it to the UDP listeners (UdpFilterEnvironment.dns) and
// to every meshd filter connection (MeshdFilterConnection.dataPlane.dns), and closes it when it
// closes, so no socket outlives the proxy and two proxies in one process share nothing.
import { DEFAULT_DNS_RESPONSE_MAX_DELAY_MS, type DnsAnswerObserver, type DnsDataPlaneOptions } from './types.js';
import { UdpUpstreamPool } from './udp-exchange.js';

export interface DnsRuntime {
  observer: DnsAnswerObserver | undefined;
  responseMaxDelayMs: number;
  /** The data plane's pooled sockets to resolvers (DNS over UDP). */
  readonly udpUpstreams: UdpUpstreamPool;
  /** Closes the pooled sockets for good (queries in flight on them get SERVFAIL, later ones too). */
  close(): void;
}

export function createDnsRuntime(options: DnsDataPlaneOptions | undefined): DnsRuntime {
  const delay = options?.dnsResponseMaxDelayMs;
  const udpUpstreams = new UdpUpstreamPool();
  return {
    observer: options?.dnsAnswerObserver,
    responseMaxDelayMs: delay !== undefined && Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_DNS_RESPONSE_MAX_DELAY_MS,
    udpUpstreams,
    close: () => udpUpstreams.close(),
  };
}
