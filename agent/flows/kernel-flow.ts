// Kernel verdict events → flows: who (pods, identities), what the kernel did, and which policy
// made it do so (computed here: the event carries identities and ports, not policy names).
import type { DatapathEvent } from '../../bpf/index.js';
import { decidingPolicy } from './deciding-policy.js';
import { labelStrings, type FlowEnrichment } from './enrichment.js';
import type { FlowEndpointRef, FlowProtocol, FlowVerdict, NewFlow } from './types.js';

/** denied → DROPPED, redirected → REDIRECTED, allowed → FORWARDED, audit (would be denied) → AUDIT. */
export function kernelVerdict(verdict: string): FlowVerdict {
  switch (verdict) {
    case 'denied':
      return 'DROPPED';
    case 'redirected':
      return 'REDIRECTED';
    case 'audit':
      return 'AUDIT';
    default:
      return 'FORWARDED';
  }
}

function protocolOf(p: DatapathEvent['protocol']): FlowProtocol {
  if (p === 'tcp' || p === 'udp') return p;
  return p === 1 || p === 58 ? 'icmp' : 'other';
}

/** CLOCK_MONOTONIC nanoseconds → wall clock, against the clock now. */
export function monotonicToIso(timestampNs: bigint, nowMonotonicNs = process.hrtime.bigint(), nowMs = Date.now()): string {
  const ageMs = Number(nowMonotonicNs - timestampNs) / 1e6;
  return new Date(nowMs - Math.max(0, ageMs)).toISOString();
}

function ref(address: string, port: number, identity: number, pod: string | undefined, e: FlowEnrichment): FlowEndpointRef {
  const labels = e.identityLabels(identity);
  return { ip: address, port, identity, ...(pod !== undefined ? { pod } : {}), ...(labels ? { labels: labelStrings(labels) } : {}) };
}

export function kernelEventToFlow(ev: DatapathEvent, e: FlowEnrichment): NewFlow {
  const localPod = e.podOfEndpoint(ev.endpointId);
  const isEgress = ev.direction === 'egress';
  const source = isEgress
    ? ref(ev.source.address, ev.source.port, ev.localIdentity, localPod ?? e.podOfIp(ev.source.address), e)
    : ref(ev.source.address, ev.source.port, ev.peerIdentity, e.podOfIp(ev.source.address), e);
  const destination = isEgress
    ? ref(ev.destination.address, ev.destination.port, ev.peerIdentity, e.podOfIp(ev.destination.address), e)
    : ref(ev.destination.address, ev.destination.port, ev.localIdentity, localPod ?? e.podOfIp(ev.destination.address), e);
  const verdict = kernelVerdict(ev.verdict);
  const protocol = protocolOf(ev.protocol);
  const policy = policyOf(ev, localPod, isEgress ? destination.pod : undefined, e);
  const reason = verdict === 'DROPPED' || verdict === 'AUDIT' ? ev.dropReasonName : undefined;
  return {
    time: monotonicToIso(ev.timestampNs),
    layer: 'kernel',
    verdict,
    protocol,
    direction: ev.direction,
    source,
    destination,
    ...(policy !== undefined ? { policy } : {}),
    ...(reason !== undefined ? { reason } : {}),
    summary: kernelSummary(ev, verdict, protocol),
  };
}

function policyOf(ev: DatapathEvent, localPod: string | undefined, destinationPod: string | undefined, e: FlowEnrichment): string | undefined {
  if (localPod === undefined || (ev.protocol !== 'tcp' && ev.protocol !== 'udp')) return undefined;
  const resolved = e.endpointPolicy(localPod);
  const remote = e.identityLabels(ev.peerIdentity);
  if (!resolved || !remote) return undefined;
  const direction = ev.direction === 'egress' ? resolved.egress : resolved.ingress;
  const namedPorts = destinationPod !== undefined ? e.namedPorts?.(destinationPod) : undefined;
  return decidingPolicy(direction, {
    remote,
    protocol: ev.protocol === 'tcp' ? 'TCP' : 'UDP',
    port: ev.destination.port,
    ...(namedPorts ? { destinationNamedPorts: namedPorts } : {}),
  }).policy;
}

function kernelSummary(ev: DatapathEvent, verdict: FlowVerdict, protocol: FlowProtocol): string {
  const what = `${protocol.toUpperCase()} ${ev.hook}`;
  switch (verdict) {
    case 'DROPPED':
      return `${what} denied (${ev.dropReasonName})`;
    case 'AUDIT':
      return `${what} would be denied (${ev.dropReasonName}), allowed by audit mode`;
    case 'REDIRECTED':
      return `${what} redirected to proxy port ${ev.proxyPort}`;
    default:
      return `${what} allowed`;
  }
}
