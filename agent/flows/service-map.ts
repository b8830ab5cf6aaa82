// Who talks to whom, from the flows in the ring: one node per peer (a pod, else the identity's
// most telling label, else the address) and one edge per (source, destination) with counts.
import type { Flow, FlowEndpointRef } from './types.js';

export interface ServiceMapNode {
  /** `pod:ns/name`, `identity:N` or `ip:ADDR`: stable, and what edges refer to. */
  id: string;
  label: string;
  kind: 'pod' | 'identity' | 'ip';
}

export interface ServiceMapEdge {
  from: string;
  to: string;
  /** FORWARDED and AUDIT flows (AUDIT: allowed, though policy would deny). */
  allowed: number;
  /** DROPPED and DENIED flows. */
  denied: number;
  /** ERROR flows (the proxy failed, e.g. upstream refused). */
  errors: number;
  /** REDIRECTED kernel flows: the proxy's own flows say how the requests went. */
  redirected: number;
  /** Destination `port/protocol`s seen, sorted. */
  ports: string[];
}

export interface ServiceMap {
  nodes: ServiceMapNode[];
  edges: ServiceMapEdge[];
}

/** The label that says most about a non-pod peer: reserved:*, fqdn:*, else the first label. */
function identityLabel(ref: FlowEndpointRef): string | undefined {
  const labels = ref.labels ?? [];
  return labels.find((l) => l.startsWith('reserved:')) ?? labels.find((l) => l.startsWith('fqdn:')) ?? labels[0];
}

export function serviceMapNodeOf(ref: FlowEndpointRef): ServiceMapNode {
  if (ref.pod !== undefined) return { id: `pod:${ref.pod}`, label: ref.pod, kind: 'pod' };
  if (ref.identity !== undefined && ref.identity !== 0) {
    const label = identityLabel(ref);
    return { id: `identity:${ref.identity}`, label: label ? `${label} (${ref.identity})` : `identity ${ref.identity}`, kind: 'identity' };
  }
  return { id: `ip:${ref.ip}`, label: ref.ip, kind: 'ip' };
}

export function buildServiceMap(flows: Iterable<Flow>): ServiceMap {
  const nodes = new Map<string, ServiceMapNode>();
  const edges = new Map<string, ServiceMapEdge & { portSet: Set<string> }>();
  for (const f of flows) {
    const from = serviceMapNodeOf(f.source);
    const to = serviceMapNodeOf(f.destination);
    nodes.set(from.id, from);
    nodes.set(to.id, to);
    const key = `${from.id}\u0000${to.id}`;
    let edge = edges.get(key);
    if (!edge) {
      edge = { from: from.id, to: to.id, allowed: 0, denied: 0, errors: 0, redirected: 0, ports: [], portSet: new Set() };
      edges.set(key, edge);
    }
    if (f.verdict === 'FORWARDED' || f.verdict === 'AUDIT') edge.allowed++;
    else if (f.verdict === 'DROPPED' || f.verdict === 'DENIED') edge.denied++;
    else if (f.verdict === 'ERROR') edge.errors++;
    else edge.redirected++;
    edge.portSet.add(`${f.destination.port}/${f.protocol}`);
  }
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    nodes: [...nodes.values()].sort(byId),
    edges: [...edges.values()]
      .map(({ portSet, ...e }) => ({ ...e, ports: [...portSet].sort() }))
      .sort((a, b) => (a.from === b.from ? (a.to < b.to ? -1 : a.to > b.to ? 1 : 0) : a.from < b.from ? -1 : 1)),
  };
}
