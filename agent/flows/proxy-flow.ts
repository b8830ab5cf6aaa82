// The proxy's L7 records (proxylib/flow) → flows, with a one-line summary in the spirit of hubble:
// `GET /v1/exhaust-port -> 403`, `kafka Produce topic=deathstar-plans DENIED`,
// `dns A api.empire.gov -> 1.2.3.4`.
import type { FlowPeer, FlowRecord } from '../../proxylib/index.js';
import { decidingPolicy } from './deciding-policy.js';
import { labelStrings, type FlowEnrichment } from './enrichment.js';
import type { FlowEndpointRef, FlowProtocol, NewFlow } from './types.js';

type Enrich = Pick<FlowEnrichment, 'podOfIp' | 'identityLabels'> & Partial<Pick<FlowEnrichment, 'endpointPolicy'>>;

function ref(peer: FlowPeer, e: Enrich): FlowEndpointRef {
  const pod = e.podOfIp(peer.ip);
  const labels = peer.identity !== undefined ? e.identityLabels(peer.identity) : undefined;
  return {
    ip: peer.ip,
    port: peer.port,
    ...(peer.identity !== undefined ? { identity: peer.identity } : {}),
    ...(pod !== undefined ? { pod } : {}),
    ...(labels ? { labels: labelStrings(labels) } : {}),
  };
}

/**
 * meshd's xDS translation names each filter chain after its redirect key,
 * `<namespace>/<pod>/<ingress|egress>/<protocol>/<ports>/<l7>[/tls|/sni]` (xds redirectKeyString):
 * the endpoint whose policy the chain enforces, and the direction. Other configurations (a proxy
 * fed by `meshd xds serve`) fall back to the listener's name for the direction.
 */
export function chainEndpointOf(filterChain: string, listener: string): { endpoint?: string; direction?: 'ingress' | 'egress' } {
  const m = /^([^/]+\/[^/]+)\/(ingress|egress)\//.exec(filterChain);
  if (m) return { endpoint: m[1]!, direction: m[2] as 'ingress' | 'egress' };
  if (/ingress/i.test(listener)) return { direction: 'ingress' };
  if (/egress/i.test(listener)) return { direction: 'egress' };
  return {};
}

/**
 * An L7 denial by an ALLOW-action RBAC filter matched no policy, so the record names none; the
 * policies that decided are those whose L7 rules apply to this peer and port (the ones the request
 * failed), found by the same lookup as for kernel flows.
 */
function l7DenyingPolicy(r: FlowRecord, endpoint: string | undefined, direction: 'ingress' | 'egress' | undefined, e: Enrich): string | undefined {
  if (r.verdict !== 'DENIED' || endpoint === undefined || direction === undefined || !e.endpointPolicy) return undefined;
  const resolved = e.endpointPolicy(endpoint);
  const peer = direction === 'ingress' ? r.source : r.destination;
  const remote = peer.identity !== undefined ? e.identityLabels(peer.identity) : undefined;
  if (!resolved || !remote) return undefined;
  const protocol = r.type === 'dns' && r.protocol === 'udp' ? 'UDP' : 'TCP';
  const d = decidingPolicy(direction === 'ingress' ? resolved.ingress : resolved.egress, { remote, protocol, port: r.destination.port });
  return d.by === 'l7-pending' ? d.policy : undefined;
}

export function proxySummary(r: FlowRecord): string {
  switch (r.type) {
    case 'http': {
      const status = r.http.status === 0 ? 'reset' : String(r.http.status);
      const grpc = r.http.grpcStatus !== undefined ? ` grpc-status=${r.http.grpcStatus}` : '';
      return `${r.http.method} ${r.http.path} -> ${status}${grpc}`;
    }
    case 'kafka': {
      const topics = r.kafka.topics.length ? ` topic=${r.kafka.topics.join(',')}` : '';
      const groups = r.kafka.groups.length ? ` group=${r.kafka.groups.join(',')}` : '';
      return `kafka ${r.kafka.apiName}${topics}${groups}${r.verdict === 'FORWARDED' ? '' : ` ${r.verdict}`}`;
    }
    case 'dns': {
      const answer = r.dns.rcode && r.dns.rcode !== 'NOERROR' ? r.dns.rcode : r.dns.ips.length ? r.dns.ips.join(',') : r.dns.rcode || 'no answer';
      return `dns ${r.dns.qtype || '?'} ${r.dns.query || '?'} -> ${answer}`;
    }
    case 'tcp':
      return `tcp sent=${r.bytesSent} received=${r.bytesReceived}`;
  }
}

function protocolOf(r: FlowRecord): FlowProtocol {
  return r.type === 'http' ? r.protocol : r.type;
}

function l7Of(r: FlowRecord): unknown {
  switch (r.type) {
    case 'http':
      return r.http;
    case 'kafka':
      return r.kafka;
    case 'dns':
      return { ...r.dns, transport: r.protocol };
    case 'tcp':
      return undefined;
  }
}

export function proxyRecordToFlow(r: FlowRecord, e: Enrich): NewFlow {
  const { endpoint, direction } = chainEndpointOf(r.filterChain, r.listener);
  const l7 = l7Of(r);
  const policy = r.policy ?? l7DenyingPolicy(r, endpoint, direction, e);
  return {
    time: r.time,
    layer: 'proxy',
    verdict: r.verdict,
    protocol: protocolOf(r),
    ...(direction ? { direction } : {}),
    source: ref(r.source, e),
    destination: ref(r.destination, e),
    ...(policy !== undefined ? { policy } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    summary: proxySummary(r),
    ...(l7 !== undefined ? { l7 } : {}),
    latencyMs: r.latencyMs,
  };
}
