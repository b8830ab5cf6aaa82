// The policy Repository: holds policies and endpoints, and resolves each endpoint's policy per
// direction. Updates are incremental: changing one policy re-resolves only the endpoints that its
// old or new rules select (the rules' peers are label selectors, so a new identity elsewhere
// never requires re-resolving an endpoint; later layers map selectors to identity sets).

import type { Direction, PeerRule, Policy, PolicyOrigin, PolicyRule } from '../model.js';
import { policyKey } from '../policy-ref.js';
import { endpointLabels, matchesSelector, type LabelSet } from '../labels/index.js';
import type { DirectionPolicy, NamedPort, PolicyEntry } from './endpoint-policy.js';
import { peerSelectors } from './peer-selectors.js';

export interface EndpointSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ips: string[];
  namedPorts: NamedPort[];
  serviceAccount?: string;
  namespaceLabels?: Record<string, string>;
}

export interface Endpoint extends EndpointSpec {
  /** `namespace/name`. */
  id: string;
  /** The identity-relevant labels (what the identity is allocated from). */
  identityLabels: LabelSet;
}

export interface EndpointPolicy {
  endpoint: Endpoint;
  ingress: DirectionPolicy;
  egress: DirectionPolicy;
  /** Repository revision this was resolved at. */
  revision: number;
}

export interface RepositoryOptions {
  /** Cilium's allow-localhost (default on): the node may always reach its pods. */
  allowLocalhost?: boolean;
  clusterName?: string;
}

export class Repository {
  private readonly policies = new Map<string, Policy>();
  private readonly endpoints = new Map<string, Endpoint>();
  /** endpoint id → the rules that select it. */
  private readonly selecting = new Map<string, Set<PolicyRule>>();
  private readonly resolved = new Map<string, EndpointPolicy>();
  private readonly allowLocalhost: boolean;
  private readonly clusterName: string;
  private rev = 0;

  constructor(options: RepositoryOptions = {}) {
    this.allowLocalhost = options.allowLocalhost ?? true;
    this.clusterName = options.clusterName ?? 'default';
  }

  get revision(): number {
    return this.rev;
  }

  listPolicies(): Policy[] {
    return [...this.policies.values()];
  }

  listEndpoints(): Endpoint[] {
    return [...this.endpoints.values()];
  }

  getEndpoint(id: string): Endpoint | undefined {
    return this.endpoints.get(id);
  }

  /** Adds or replaces a policy; returns the ids of endpoints whose policy may have changed. */
  upsertPolicy(policy: Policy): string[] {
    const key = policyKey(policy.origin);
    const old = this.policies.get(key);
    this.policies.set(key, policy);
    return this.reselect(policy.rules, old?.rules ?? []);
  }

  deletePolicy(origin: PolicyOrigin): string[] {
    const key = policyKey(origin);
    const old = this.policies.get(key);
    if (!old) return [];
    this.policies.delete(key);
    return this.reselect([], old.rules);
  }

  upsertEndpoint(spec: EndpointSpec): Endpoint {
    const endpoint: Endpoint = {
      ...spec,
      id: `${spec.namespace}/${spec.name}`,
      identityLabels: endpointLabels({ ...spec, clusterName: this.clusterName }),
    };
    this.endpoints.set(endpoint.id, endpoint);
    const rules = new Set<PolicyRule>();
    for (const p of this.policies.values()) for (const r of p.rules) if (this.selects(r, endpoint)) rules.add(r);
    this.selecting.set(endpoint.id, rules);
    this.resolved.delete(endpoint.id);
    this.rev++;
    return endpoint;
  }

  deleteEndpoint(id: string): void {
    this.endpoints.delete(id);
    this.selecting.delete(id);
    this.resolved.delete(id);
    this.rev++;
  }

  /** The endpoint's resolved policy (cached until a change affects it). */
  endpointPolicy(id: string): EndpointPolicy | undefined {
    const cached = this.resolved.get(id);
    if (cached) return cached;
    const endpoint = this.endpoints.get(id);
    if (!endpoint) return undefined;
    const rules = [...(this.selecting.get(id) ?? [])];
    const result: EndpointPolicy = {
      endpoint,
      ingress: this.resolveDirection(endpoint, rules, 'ingress'),
      egress: this.resolveDirection(endpoint, rules, 'egress'),
      revision: this.rev,
    };
    this.resolved.set(id, result);
    return result;
  }

  resolveAll(): EndpointPolicy[] {
    return [...this.endpoints.keys()].map((id) => this.endpointPolicy(id)!);
  }

  private selects(rule: PolicyRule, ep: Endpoint): boolean {
    return rule.subject.kind === 'endpoints' && matchesSelector(rule.subject.selector, ep.identityLabels);
  }

  /** Drops `removed` rules from every endpoint, then adds the `added` rules that select it. */
  private reselect(added: PolicyRule[], removed: PolicyRule[]): string[] {
    this.rev++;
    const affected: string[] = [];
    for (const ep of this.endpoints.values()) {
      const set = this.selecting.get(ep.id)!;
      let changed = false;
      for (const r of removed) changed = set.delete(r) || changed;
      for (const r of added) {
        if (this.selects(r, ep)) {
          set.add(r);
          changed = true;
        }
      }
      if (changed) {
        this.resolved.delete(ep.id);
        affected.push(ep.id);
      }
    }
    return affected;
  }

  private resolveDirection(endpoint: Endpoint, rules: PolicyRule[], direction: Direction): DirectionPolicy {
    const withDirection = rules.filter((r) => sectionOf(r, direction, false).length > 0 || sectionOf(r, direction, true).length > 0);
    const isDefaultDeny = withDirection.some((r) => r.enableDefaultDeny[direction] !== false);
    const entries: PolicyEntry[] = [];
    for (const rule of withDirection) {
      for (const isDeny of [false, true]) {
        for (const pr of sectionOf(rule, direction, isDeny)) entries.push(...this.entriesOf(endpoint, rule, pr));
      }
    }
    if (direction === 'ingress' && isDefaultDeny && this.allowLocalhost) {
      entries.push({
        direction,
        peers: [{ requirements: [{ source: 'reserved', key: 'host', operator: 'Exists', values: [] }] }],
        protocol: 'ANY',
        portStart: 0,
        portEnd: 0,
        isDeny: false,
        isL7VisibilityOnly: false,
        serverNames: [],
        origin: { kind: 'allow-localhost' },
      });
    }
    return { isDefaultDeny, entries, rules: withDirection };
  }

  private entriesOf(endpoint: Endpoint, rule: PolicyRule, pr: PeerRule): PolicyEntry[] {
    const peers = peerSelectors(pr.peers, this.clusterName);
    if (peers !== undefined && peers.length === 0) return [];
    const base = {
      direction: pr.direction,
      peers,
      isDeny: pr.isDeny,
      isL7VisibilityOnly: rule.enableDefaultDeny[pr.direction] === false,
      serverNames: [] as string[],
    };
    if (pr.toPorts.length === 0 && pr.icmps.length === 0) {
      return [{ ...base, protocol: 'ANY', portStart: 0, portEnd: 0, origin: { kind: 'rule', rule, peerRule: pr } }];
    }
    const out: PolicyEntry[] = [];
    for (const icmp of pr.icmps) {
      out.push({ ...base, protocol: icmp.family === 'IPv4' ? 'ICMP' : 'ICMPv6', portStart: icmp.type, portEnd: icmp.type, origin: { kind: 'rule', rule, peerRule: pr } });
    }
    for (const portRule of pr.toPorts) {
      const common: Omit<PolicyEntry, 'protocol' | 'portStart' | 'portEnd'> = {
        ...base,
        serverNames: portRule.serverNames,
        origin: { kind: 'rule', rule, peerRule: pr, portRule },
      };
      if (portRule.rules) common.l7 = portRule.rules;
      if (portRule.terminatingTLS) common.terminatingTLS = portRule.terminatingTLS;
      if (portRule.originatingTLS) common.originatingTLS = portRule.originatingTLS;
      if (portRule.ports.length === 0) out.push({ ...common, protocol: 'ANY', portStart: 0, portEnd: 0 });
      for (const p of portRule.ports) {
        if (typeof p.port === 'string') {
          if (pr.direction === 'egress') {
            out.push({ ...common, protocol: p.protocol, portStart: 0, portEnd: 0, namedPort: p.port });
            continue;
          }
          // Ingress names refer to this endpoint's own ports; an unknown name allows nothing.
          for (const np of endpoint.namedPorts) {
            if (np.name === p.port && (p.protocol === 'ANY' || p.protocol === np.protocol)) {
              out.push({ ...common, protocol: np.protocol, portStart: np.port, portEnd: np.port });
            }
          }
          continue;
        }
        out.push({ ...common, protocol: p.protocol, portStart: p.port, portEnd: p.endPort ?? p.port });
      }
    }
    return out;
  }
}

function sectionOf(rule: PolicyRule, direction: Direction, isDeny: boolean): PeerRule[] {
  if (direction === 'ingress') return isDeny ? rule.ingressDeny : rule.ingress;
  return isDeny ? rule.egressDeny : rule.egress;
}

