// The parts the built-in proxy's Kafka and DNS filter configs share (meshd.filters.common.v1):
// which endpoint and direction, deny rules, peer rules with identities and ports, the upstream.
import { Direction } from '../generated/meshd/filters/common/v1/policy_pb.js';
import type { PortRangePlan } from './plan.js';
import type { ProblemList } from './problems.js';

export interface RemotesPlan {
  any: boolean;
  identities: number[];
}

export interface PeerRulePlan<Request> {
  name: string;
  remotes: RemotesPlan;
  ports?: PortRangePlan;
  l3l4Only: boolean;
  visibilityOnly: boolean;
  requests: Request[];
}

export interface PeerPolicyPlan<Request> {
  statPrefix: string;
  endpoint: string;
  endpointIps: string[];
  direction: 'ingress' | 'egress';
  destinationPorts: PortRangePlan;
  defaultDeny: boolean;
  denyRules: Array<{ name: string; remotes: RemotesPlan; ports?: PortRangePlan }>;
  rules: Array<PeerRulePlan<Request>>;
  upstreamCluster: string;
}

function remotes(r: RemotesPlan): { any: boolean; identities: number[] } {
  return { any: r.any, identities: r.any ? [] : [...new Set(r.identities)].sort((a, b) => a - b) };
}

function ports(r: PortRangePlan | undefined): { ports?: { start: number; end: number } } {
  return r ? { ports: { start: r.start, end: r.end } } : {};
}

/** Init fields common to KafkaPolicy and DnsPolicy, plus a helper for each rule's common fields. */
export function commonParts<Request>(plan: PeerPolicyPlan<Request>) {
  return {
    init: {
      statPrefix: plan.statPrefix,
      endpoint: plan.endpoint,
      direction: plan.direction === 'ingress' ? Direction.INGRESS : Direction.EGRESS,
      defaultDeny: plan.defaultDeny,
      denyRules: plan.denyRules.map((d) => ({ name: d.name, remotes: remotes(d.remotes), ...ports(d.ports) })),
      upstream: { cluster: plan.upstreamCluster },
      endpointIps: [...plan.endpointIps],
      destinationPorts: { start: plan.destinationPorts.start, end: plan.destinationPorts.end },
    },
    ruleParts: (r: PeerRulePlan<Request>) => ({
      name: r.name,
      remotes: remotes(r.remotes),
      ...ports(r.ports),
      l3l4Only: r.l3l4Only,
      visibilityOnly: r.visibilityOnly,
    }),
  };
}

interface CommonMessage {
  statPrefix: string;
  endpoint: string;
  direction: Direction;
  endpointIps: string[];
  destinationPorts?: { start: number; end: number } | undefined;
  denyRules: Array<{ name: string; ports?: { start: number; end: number } | undefined }>;
  rules: Array<{ name: string; remotes?: { any: boolean; identities: number[] } | undefined; ports?: { start: number; end: number } | undefined }>;
  upstream?: { cluster: string } | undefined;
}

export function validateCommonParts(p: ProblemList, m: CommonMessage): void {
  p.nonEmpty('stat_prefix', m.statPrefix);
  p.nonEmpty('endpoint', m.endpoint);
  if (m.direction !== Direction.INGRESS && m.direction !== Direction.EGRESS) p.add('direction', 'must be INGRESS or EGRESS');
  if (m.endpointIps.length === 0) p.add('endpoint_ips', 'must name the endpoint\'s addresses');
  m.endpointIps.forEach((ip, i) => p.ip(`endpoint_ips[${i}]`, ip));
  checkRange(p, 'destination_ports', m.destinationPorts, true);
  if (!m.upstream || m.upstream.cluster === '') p.add('upstream.cluster', 'must name the ORIGINAL_DST cluster');
  m.denyRules.forEach((d, i) => {
    p.nonEmpty(`deny_rules[${i}].name`, d.name);
    checkRange(p, `deny_rules[${i}].ports`, d.ports, false);
  });
  p.unique('rules', m.rules.map((r) => r.name), 'rule name');
  m.rules.forEach((r, i) => {
    p.nonEmpty(`rules[${i}].name`, r.name);
    if (!r.remotes) p.add(`rules[${i}].remotes`, 'missing');
    checkRange(p, `rules[${i}].ports`, r.ports, false);
  });
}

function checkRange(p: ProblemList, path: string, r: { start: number; end: number } | undefined, required: boolean): void {
  if (!r) {
    if (required) p.add(path, 'missing');
    return;
  }
  p.port(`${path}.start`, r.start);
  p.port(`${path}.end`, r.end);
  if (r.start > r.end) p.add(path, `start ${r.start} is after end ${r.end}`);
}
