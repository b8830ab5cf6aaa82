// What an endpoint's policy resolves to, per direction, and how a flow is looked up in it.
// The lookup is the one place that states Cilium's combination rules:
//   - deny beats allow, whatever the rule's source (pkg/policy/mapstate.go);
//   - no allow → dropped if the direction is default-deny, else allowed;
//   - an allow without L7 for the same peer and port makes L7 allow-all (mergePortProto);
//   - L7 rules of a rule with enableDefaultDeny: false never deny (cilium/cilium#38676);
//   - otherwise the request must match one of the L7 rules that apply (lists merge by OR).

import type { Direction, HttpRule, KafkaRule, DnsRule, L7Rules, LabelSelector, PeerRule, PolicyRule, PortRule, TlsContext } from '../model.js';
import type { LabelSet } from '../labels/index.js';
import { matchesSelector } from '../labels/index.js';

export type EntryProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY' | 'ICMP' | 'ICMPv6';

/** Why an entry exists: a rule of a policy, or an agent default. */
export type EntryOrigin =
  | { kind: 'rule'; rule: PolicyRule; peerRule: PeerRule; portRule?: PortRule }
  | { kind: 'allow-localhost' };

export interface PolicyEntry {
  direction: Direction;
  /** undefined = any peer; otherwise the peer must match one of the selectors. */
  peers: LabelSelector[] | undefined;
  protocol: EntryProtocol;
  /** 0–0 means every port. For ICMP, the type. Inclusive. */
  portStart: number;
  portEnd: number;
  /** An egress named port, resolved per destination at lookup (ingress ones are resolved already). */
  namedPort?: string;
  isDeny: boolean;
  /** Present → traffic is redirected to the L7 proxy, which enforces these rules. */
  l7?: L7Rules;
  /** The rule's direction has enableDefaultDeny: false, so its L7 rules only observe. */
  isL7VisibilityOnly: boolean;
  terminatingTLS?: TlsContext;
  originatingTLS?: TlsContext;
  serverNames: string[];
  origin: EntryOrigin;
}

export interface DirectionPolicy {
  /** Traffic no allow entry matches is dropped. */
  isDefaultDeny: boolean;
  entries: PolicyEntry[];
  /** Rules that select the endpoint and have this direction. */
  rules: PolicyRule[];
}

export interface NamedPort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface FlowKey {
  /** Labels of the identity on the other side. */
  remote: LabelSet;
  protocol: 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | 'ICMPv6';
  port: number;
  /** Named ports of the destination endpoint, for egress entries written with a port name. */
  destinationNamedPorts: readonly NamedPort[];
}

export type L7Request =
  | { type: 'http'; method: string; path: string; host?: string; headers: Array<[string, string]> }
  | { type: 'kafka'; apiKey: number; apiVersion: number; clientID?: string; topics: string[] | 'all'; groups?: string[] }
  | { type: 'dns'; query: string };

export interface L7Evaluator {
  http(rules: HttpRule[], req: Extract<L7Request, { type: 'http' }>): boolean;
  kafka(rules: KafkaRule[], req: Extract<L7Request, { type: 'kafka' }>): boolean;
  dns(rules: DnsRule[], req: Extract<L7Request, { type: 'dns' }>): boolean;
}

export type LookupResult =
  | { verdict: 'denied'; stage: 'l3l4'; by: 'deny-rule'; entry: PolicyEntry }
  | { verdict: 'denied'; stage: 'l3l4'; by: 'default-deny' }
  | { verdict: 'allowed'; stage: 'l3l4'; by: 'not-enforced' }
  | { verdict: 'allowed'; stage: 'l3l4'; by: 'allow-rule'; entry: PolicyEntry }
  /** L7 rules apply but no request was given to check: the proxy decides per request. */
  | { verdict: 'allowed'; stage: 'l7'; by: 'l7-pending'; l7Type: L7Rules['type']; entries: PolicyEntry[] }
  | { verdict: 'allowed'; stage: 'l7'; by: 'l3l4-overrides-l7' | 'l7-visibility-only' | 'l7-rule'; entry: PolicyEntry; l7Entries: PolicyEntry[] }
  | { verdict: 'denied'; stage: 'l7'; by: 'no-l7-match'; l7Type: L7Rules['type']; entries: PolicyEntry[] };

export function entryMatches(e: PolicyEntry, flow: FlowKey): boolean {
  if (e.peers !== undefined && !e.peers.some((s) => matchesSelector(s, flow.remote))) return false;
  if (e.protocol !== flow.protocol && !(e.protocol === 'ANY' && (flow.protocol === 'TCP' || flow.protocol === 'UDP' || flow.protocol === 'SCTP'))) {
    return false;
  }
  if (e.namedPort !== undefined) {
    return flow.destinationNamedPorts.some(
      // A named port carries its own protocol: `port: http` without a protocol means http's.
      (np) => np.name === e.namedPort && np.port === flow.port && np.protocol === flow.protocol && (e.protocol === 'ANY' || np.protocol === e.protocol),
    );
  }
  if (e.portStart === 0 && e.portEnd === 0) return true;
  return flow.port >= e.portStart && flow.port <= e.portEnd;
}

export function lookupFlow(policy: DirectionPolicy, flow: FlowKey, request: L7Request | undefined, evaluate: L7Evaluator): LookupResult {
  const matching = policy.entries.filter((e) => entryMatches(e, flow));
  const deny = matching.find((e) => e.isDeny);
  if (deny) return { verdict: 'denied', stage: 'l3l4', by: 'deny-rule', entry: deny };
  const allows = matching.filter((e) => !e.isDeny).sort(bySpecificity);
  if (allows.length === 0) {
    return policy.isDefaultDeny ? { verdict: 'denied', stage: 'l3l4', by: 'default-deny' } : { verdict: 'allowed', stage: 'l3l4', by: 'not-enforced' };
  }
  const l7Entries = allows.filter((e) => e.l7 !== undefined);
  const first = allows[0]!;
  if (l7Entries.length === 0) return { verdict: 'allowed', stage: 'l3l4', by: 'allow-rule', entry: first };
  const plain = allows.find((e) => e.l7 === undefined);
  if (plain) return { verdict: 'allowed', stage: 'l7', by: 'l3l4-overrides-l7', entry: plain, l7Entries };

  // Entries of several L7 types can meet here only across policies; judge by the request's own.
  const l7Type = request && l7Entries.some((e) => e.l7!.type === request.type) ? request.type : l7Entries[0]!.l7!.type;
  if (!request || request.type !== l7Type) return { verdict: 'allowed', stage: 'l7', by: 'l7-pending', l7Type, entries: l7Entries };
  const matched = l7Entries.find((e) => l7Matches(e.l7!, request, evaluate));
  if (matched) return { verdict: 'allowed', stage: 'l7', by: matched.isL7VisibilityOnly ? 'l7-visibility-only' : 'l7-rule', entry: matched, l7Entries };
  // Kafka needs every topic (and group) of a request covered, possibly by rules of different entries.
  if (request.type === 'kafka') {
    const all = l7Entries.flatMap((e) => (e.l7!.type === 'kafka' ? e.l7!.kafka : []));
    if (evaluate.kafka(all, request)) return { verdict: 'allowed', stage: 'l7', by: 'l7-rule', entry: l7Entries[0]!, l7Entries };
  }
  const observer = l7Entries.find((e) => e.isL7VisibilityOnly);
  if (observer) return { verdict: 'allowed', stage: 'l7', by: 'l7-visibility-only', entry: observer, l7Entries };
  return { verdict: 'denied', stage: 'l7', by: 'no-l7-match', l7Type, entries: l7Entries };
}

function l7Matches(l7: L7Rules, request: L7Request, evaluate: L7Evaluator): boolean {
  if (l7.type === 'http' && request.type === 'http') return evaluate.http(l7.http, request);
  if (l7.type === 'kafka' && request.type === 'kafka') return evaluate.kafka(l7.kafka, request);
  if (l7.type === 'dns' && request.type === 'dns') return evaluate.dns(l7.dns, request);
  return false;
}

/** Narrower port ranges first, then entries naming a peer before "any peer" ones. */
function bySpecificity(a: PolicyEntry, b: PolicyEntry): number {
  const width = (e: PolicyEntry) => (e.namedPort !== undefined ? 0 : e.portStart === 0 && e.portEnd === 0 ? 65536 : e.portEnd - e.portStart);
  return width(a) - width(b) || Number(a.peers === undefined) - Number(b.peers === undefined);
}
