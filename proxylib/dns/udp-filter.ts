// The DNS filter of a UDP listener: one DnsPolicy, selected by the client's endpoint addresses and
// the original destination port (a UDP listener has no filter chains, so the proxy picks by these,
// as the proto says). Each datagram is one query: forwarded to the resolver the client asked (the
// ORIGINAL_DST cluster's pick of the original destination, or the configured cluster's endpoint for
// a plain listener) from a pooled upstream socket (udp-exchange.ts), and answered from the
// listener's socket.
import type { Message } from '@bufbuild/protobuf';
import { isIPv6 } from 'node:net';
import { worldIdentityOf } from '../../policy/index.js';
import type { NetworkFilterContext } from '../config/filter-registry.js';
import type { UdpDatagramFacts, UdpFilterEnvironment, UdpListenerFilter, UdpListenerFilterConfig } from '../listener/udp-types.js';
import { compileDnsPolicyConfig, DNS_POLICY_TYPE, ipKey, type DnsPolicyConfig } from './compile-policy.js';
import { answerQuery, UpstreamFailure } from './query-handler.js';
import { randomQueryId } from './udp-exchange.js';

/** Addresses remembered by DnsUdpFilter.isEndpointIp before it starts over. */
const ENDPOINT_IP_CACHE_MAX = 4096;

export class DnsUdpFilter implements UdpListenerFilter {
  private readonly endpointIpCache = new Map<string, boolean>();

  constructor(
    /** ListenerFilter.name (the redirect it serves). */
    readonly name: string,
    readonly policy: DnsPolicyConfig,
  ) {}

  selects(facts: UdpDatagramFacts): boolean {
    const p = this.policy;
    const endpointIp = p.direction === 'egress' ? facts.source.address : facts.destination.address;
    if (!this.isEndpointIp(endpointIp)) return false;
    const port = facts.destination.port;
    return p.destinationPorts === undefined || (port >= p.destinationPorts.start && port <= p.destinationPorts.end);
  }

  /**
   * Whether `ip` is one of the policy's endpoint addresses. Remembered per address text: parsing the
   * address into its canonical key for every datagram cost more than the decision (a node has few
   * pods per listener; the memory is bounded and starts over when full).
   */
  private isEndpointIp(ip: string): boolean {
    let known = this.endpointIpCache.get(ip);
    if (known === undefined) {
      const key = ipKey(ip);
      known = key !== undefined && this.policy.endpointIpKeys.has(key);
      if (this.endpointIpCache.size >= ENDPOINT_IP_CACHE_MAX) this.endpointIpCache.clear();
      this.endpointIpCache.set(ip, known);
    }
    return known;
  }

  handleDatagram(payload: Buffer, facts: UdpDatagramFacts, reply: (message: Buffer) => void, env: UdpFilterEnvironment): Promise<void> {
    return runUdpQuery(payload, facts, reply, env, this.policy, this.name);
  }

  /** No policy of the listener is for this client: SERVFAIL, as Cilium answers a failed endpoint lookup. */
  handleUnselected(payload: Buffer, facts: UdpDatagramFacts, reply: (message: Buffer) => void, env: UdpFilterEnvironment): Promise<void> {
    return runUdpQuery(payload, facts, reply, env, undefined, '');
  }
}

function worldOf(ip: string): number {
  return worldIdentityOf(isIPv6(ip) ? 6 : 4).id;
}

async function runUdpQuery(payload: Buffer, facts: UdpDatagramFacts, reply: (message: Buffer) => void, env: UdpFilterEnvironment, policy: DnsPolicyConfig | undefined, filterName: string): Promise<void> {
  const egress = policy?.direction !== 'ingress';
  const sourceIdentity = facts.sourceIdentity ?? (egress ? undefined : worldOf(facts.source.address));
  const destinationIdentity = facts.destinationIdentity ?? (egress ? worldOf(facts.destination.address) : undefined);
  let upstream: { cluster: string; address: string; port: number } | undefined;
  const answer = await answerQuery(payload, {
    protocol: 'udp',
    policy,
    source: { ip: facts.source.address, port: facts.source.port, identity: sourceIdentity },
    destination: { ip: facts.destination.address, port: facts.destination.port, identity: destinationIdentity },
    peerIdentity: (egress ? destinationIdentity : sourceIdentity) ?? worldOf(facts.destination.address),
    listener: facts.listenerName,
    filterChain: filterName,
    runtime: env.dns,
    logger: env.logger,
    freshId: randomQueryId,
    upstream: () => upstream,
    exchange: (query, questionEnd, timeoutMs) => {
      const cluster = policy!.upstreamCluster;
      const picked = env.clusters.pick(cluster, { originalDestination: facts.destination, host: '', downstreamProtocol: 'http1' });
      if (!picked.ok) return Promise.reject(new UpstreamFailure('no_upstream', `cluster ${cluster}: ${picked.reason}`));
      const target = picked.target;
      // Not redirected and the cluster sends to the original destination: that is this listener.
      if (!facts.redirected && target.address === facts.destination.address && target.port === facts.destination.port) {
        return Promise.reject(new UpstreamFailure('no_upstream', `cluster ${cluster} would send the query back to this listener`));
      }
      upstream = { cluster, address: target.address, port: target.port };
      return env.dns.udpUpstreams.exchange(query, questionEnd, target, timeoutMs);
    },
  });
  if (answer) reply(answer);
}

/** The UDP listener filter compiler registered for meshd.filters.dns.v1.DnsPolicy. */
export function compileDnsUdpFilter(config: Message, ctx: NetworkFilterContext): UdpListenerFilterConfig | undefined {
  const policy = compileDnsPolicyConfig(config, { path: ctx.path, problems: ctx.problems, forUdp: true });
  return policy ? { name: ctx.name, typeName: DNS_POLICY_TYPE, filter: new DnsUdpFilter(ctx.name, policy) } : undefined;
}
