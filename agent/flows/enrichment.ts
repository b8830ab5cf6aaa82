// What a flow is enriched with, as functions the agent injects: the flow code reads endpoints,
// identities and resolved policies without depending on how the agent holds them.
import type { EndpointPolicy, LabelSet, NamedPort } from '../../policy/index.js';

export interface FlowEnrichment {
  /** `namespace/name` of the pod with this datapath endpoint id. */
  podOfEndpoint(endpointId: number): string | undefined;
  /** `namespace/name` of the pod that owns this address. */
  podOfIp(ip: string): string | undefined;
  /** The labels of a numeric identity (allocator or reserved). */
  identityLabels(identity: number): LabelSet | undefined;
  /** The pod's resolved policy (Repository.endpointPolicy). */
  endpointPolicy(pod: string): EndpointPolicy | undefined;
  /** The pod's named ports, for egress rules written with a port name. */
  namedPorts?(pod: string): readonly NamedPort[] | undefined;
}

/** `source:key=value`, as `meshd policy trace` prints labels. */
export function labelStrings(labels: LabelSet): string[] {
  return [...labels].map((l) => `${l.source}:${l.key}${l.value ? `=${l.value}` : ''}`);
}

/** The usual wiring: endpoints by id and by address, the allocator, the Repository. */
export function agentFlowEnrichment(o: {
  endpoints: { list(): ReadonlyArray<{ id: string; endpointId: number }>; byIp(ip: string): { id: string } | undefined };
  identityLabels(identity: number): LabelSet | undefined;
  repository: { endpointPolicy(id: string): EndpointPolicy | undefined; getEndpoint(id: string): { namedPorts: NamedPort[] } | undefined };
}): FlowEnrichment {
  // Endpoint ids are looked up per kernel event: index them, rebuilt on a miss at most once a second
  // (a new pod's first events may come before the next rebuild; they then carry no pod name).
  let byEndpointId = new Map<number, string>();
  let builtAt = 0;
  const rebuild = (): void => {
    byEndpointId = new Map(o.endpoints.list().map((e) => [e.endpointId, e.id]));
    builtAt = Date.now();
  };
  return {
    podOfEndpoint(endpointId) {
      const hit = byEndpointId.get(endpointId);
      if (hit !== undefined) return hit;
      if (Date.now() - builtAt < 1000) return undefined;
      rebuild();
      return byEndpointId.get(endpointId);
    },
    podOfIp: (ip) => o.endpoints.byIp(ip)?.id,
    identityLabels: o.identityLabels,
    endpointPolicy: (pod) => o.repository.endpointPolicy(pod),
    namedPorts: (pod) => o.repository.getEndpoint(pod)?.namedPorts,
  };
}
