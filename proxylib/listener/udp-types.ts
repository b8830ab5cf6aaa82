// What a UDP listener hands its listener filters (meshd's DNS filter today). A UDP listener has no
// filter chains (Envoy's UDP listeners have none either): each of its filters says which datagrams
// are its own — the DNS filter by the client's endpoint addresses and the original destination port
// — and the first that selects a datagram handles it.
//
// Stable contract: fields are only ever added.
import type { DnsRuntime } from '../dns/runtime.js';
import type { ClusterManager } from '../upstream/types.js';
import type { CoarseClock, ProxyLogger, SocketEndpoint } from './types.js';

export interface UdpDatagramFacts {
  listenerName: string;
  /** The client (the datagram's source). */
  source: SocketEndpoint;
  /** The original destination from the datapath; the listener's own address when not redirected. */
  destination: SocketEndpoint;
  /** True when the datapath knew the datagram's original destination. */
  redirected: boolean;
  /** Security identities from the ipcache (undefined when unknown or no resolver). */
  sourceIdentity: number | undefined;
  destinationIdentity: number | undefined;
}

export interface UdpFilterEnvironment {
  clusters: ClusterManager;
  clock: CoarseClock;
  logger: ProxyLogger | undefined;
  identityOf(ip: string): number | undefined;
  /** The data plane's DNS settings (answer observer, response max delay). */
  dns: DnsRuntime;
}

export interface UdpListenerFilter {
  /** Whether the datagram is this filter's to handle. */
  selects(facts: UdpDatagramFacts): boolean;
  /**
   * Handles one datagram. `reply` sends from the listener's socket to the client (so the datapath's
   * recvmsg hook shows the client the original destination as the sender). Settles when the work for
   * this datagram is done (the listener drains on it); must not reject.
   */
  handleDatagram(payload: Buffer, facts: UdpDatagramFacts, reply: (message: Buffer) => void, env: UdpFilterEnvironment): Promise<void>;
  /** Called on the listener's first filter for a datagram no filter selects (DNS: SERVFAIL); absent → dropped. */
  handleUnselected?(payload: Buffer, facts: UdpDatagramFacts, reply: (message: Buffer) => void, env: UdpFilterEnvironment): Promise<void>;
}

/** One compiled listener filter of a UDP listener. */
export interface UdpListenerFilterConfig {
  /** ListenerFilter.name. */
  name: string;
  typeName: string;
  filter: UdpListenerFilter;
}
