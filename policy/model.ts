// The validated, normalized policy model: what the loader produces from CiliumNetworkPolicy,
// CiliumClusterwideNetworkPolicy, NetworkPolicy and bare JSON rule arrays, and what resolution
// consumes. Wire spellings (Cilium field names) are kept where they exist so a grep finds the
// upstream schema (pkg/policy/api in cilium/cilium).

import type { SourcePosition } from './errors.js';

export type Direction = 'ingress' | 'egress';

export type PolicyKind =
  | 'CiliumNetworkPolicy'
  | 'CiliumClusterwideNetworkPolicy'
  | 'NetworkPolicy'
  /** A bare JSON array of rules, as Cilium's runtime fixtures and `cilium policy import` use. */
  | 'CiliumRuleList';

/** Where a rule came from; every verdict names it. */
export interface PolicyOrigin {
  kind: PolicyKind;
  /** undefined for cluster-wide policies and bare rule lists. */
  namespace: string | undefined;
  name: string;
  /** Position of the document (its `kind:` line, or the rule for rule lists). */
  position: SourcePosition;
}

// ---- labels and selectors -------------------------------------------------------------

/** Label sources as Cilium spells them (`k8s:app=x`, `reserved:host`). `any` only appears in selectors. */
export type LabelSource = string;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface SelectorRequirement {
  /** `any` matches a label of that key from every source. */
  source: LabelSource;
  key: string;
  operator: SelectorOperator;
  /** Sorted, de-duplicated; empty for Exists/DoesNotExist. */
  values: string[];
}

/** A Kubernetes LabelSelector in Cilium form. No requirements = selects every labelled identity. */
export interface LabelSelector {
  requirements: SelectorRequirement[];
}

// ---- L3 peers ---------------------------------------------------------------------------

/** Every entity of current Cilium (pkg/policy/api/entity.go), plus the dual-stack world split. */
export const ENTITIES = [
  'all',
  'world',
  'world-ipv4',
  'world-ipv6',
  'cluster',
  'cluster-mesh',
  'host',
  'init',
  'ingress',
  'unmanaged',
  'remote-node',
  'health',
  'none',
  'kube-apiserver',
] as const;
export type Entity = (typeof ENTITIES)[number];

export interface CidrRule {
  /** Canonical prefix (host bits cleared), e.g. `10.0.0.0/8`, `2001:db8::/32`. */
  cidr?: string;
  /** Canonical prefixes, each inside `cidr` and of its family. */
  except: string[];
  /** Name of a CiliumCIDRGroup. */
  cidrGroupRef?: string;
  /** Label selector over CiliumCIDRGroups. */
  cidrGroupSelector?: LabelSelector;
}

export interface FqdnSelector {
  matchName?: string;
  matchPattern?: string;
}

export interface ServiceSelector {
  k8sService?: { serviceName: string; namespace: string | undefined };
  k8sServiceSelector?: { selector: LabelSelector; namespace: string | undefined };
}

/**
 * The L3 part of one ingress/egress element. Cilium allows one L3 member per element (except
 * fromCIDR + fromCIDRSet, which are merged here). `wildcard` is the implicit "every peer" of an
 * element that only has toPorts/icmps; `nothing` is an element that selects no peer (e.g. `{}`,
 * which only makes the endpoint default-deny, or an explicitly empty `fromEndpoints: []`).
 */
export type PeerSelector =
  | { kind: 'wildcard' }
  | { kind: 'nothing' }
  | { kind: 'endpoints'; selectors: LabelSelector[] }
  | { kind: 'nodes'; selectors: LabelSelector[] }
  | { kind: 'entities'; entities: Entity[] }
  | { kind: 'cidr'; cidrs: CidrRule[] }
  | { kind: 'fqdns'; fqdns: FqdnSelector[] }
  | { kind: 'services'; services: ServiceSelector[] }
  | { kind: 'groups'; groups: unknown[] };

// ---- L4 ---------------------------------------------------------------------------------

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ANY'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface PortProtocol {
  /** A number (0 = every port), or an IANA-style name resolved against the endpoint's named ports. */
  port: number | string;
  /** Inclusive end of a range; only with a numeric port. */
  endPort?: number;
  protocol: Protocol;
  position: SourcePosition;
}

export interface IcmpField {
  family: 'IPv4' | 'IPv6';
  /** Numeric ICMP type (names are translated). */
  type: number;
}

// ---- L7 ---------------------------------------------------------------------------------

export interface HeaderPresence {
  name: string;
  /** Exact value; undefined means "present with any value". */
  value?: string;
}

export interface HeaderMatch {
  name: string;
  value?: string;
  secret?: { namespace: string | undefined; name: string };
  mismatch?: 'LOG' | 'ADD' | 'DELETE' | 'REPLACE';
}

/** One element of rules.http: fields are ANDed; elements of the list are ORed. Regexes are RE2, full match. */
export interface HttpRule {
  method?: string;
  path?: string;
  host?: string;
  headers: HeaderPresence[];
  headerMatches: HeaderMatch[];
  position: SourcePosition;
}

export type KafkaRole = 'produce' | 'consume';

/** One element of rules.kafka as Cilium ≤1.19 had it, plus meshd's `topicPrefix` and `groupID`. */
export interface KafkaRule {
  role?: KafkaRole;
  /** Lower-case Kafka API name: Cilium's spelling (`produce`, `offsets`, ...) or Kafka's (`listoffsets`). */
  apiKey?: string;
  apiVersion?: number;
  clientID?: string;
  topic?: string;
  /** meshd extension: every topic starting with this; never set together with `topic`. */
  topicPrefix?: string;
  /** meshd extension: exact consumer (or share) group id; constrains only requests that carry groups. */
  groupID?: string;
  position: SourcePosition;
}

export interface DnsRule {
  matchName?: string;
  matchPattern?: string;
  position: SourcePosition;
}

export type L7Rules =
  | { type: 'http'; http: HttpRule[] }
  | { type: 'kafka'; kafka: KafkaRule[] }
  | { type: 'dns'; dns: DnsRule[] };

export type L7Type = L7Rules['type'];

export interface TlsContext {
  secret: { namespace: string | undefined; name: string };
  trustedCA?: string;
  certificate?: string;
  privateKey?: string;
}

export interface PortRule {
  /** Empty = every port and protocol. */
  ports: PortProtocol[];
  rules?: L7Rules;
  terminatingTLS?: TlsContext;
  originatingTLS?: TlsContext;
  serverNames: string[];
  listener?: { envoyConfig: { kind: string; name: string }; name: string; priority?: number };
  position: SourcePosition;
}

// ---- rules ------------------------------------------------------------------------------

/** One element of ingress / ingressDeny / egress / egressDeny. */
export interface PeerRule {
  direction: Direction;
  isDeny: boolean;
  peers: PeerSelector;
  /** Empty with no icmps = every port and protocol. */
  toPorts: PortRule[];
  icmps: IcmpField[];
  authenticationMode?: 'disabled' | 'required' | 'test-always-fail';
  /** Field path inside the document, e.g. `spec.ingress[1]`. */
  path: string;
  position: SourcePosition;
}

export interface PolicyRule {
  origin: PolicyOrigin;
  /** Index in `specs` (0 for `spec`, the element index for rule lists). */
  ruleIndex: number;
  path: string;
  position: SourcePosition;
  /**
   * Whom the rule applies to. For namespaced policies the namespace requirement is already
   * part of the selector (Cilium's namespace scoping).
   */
  subject: { kind: 'endpoints' | 'nodes'; selector: LabelSelector };
  ingress: PeerRule[];
  ingressDeny: PeerRule[];
  egress: PeerRule[];
  egressDeny: PeerRule[];
  /** As written; undefined means Cilium's default (deny for a direction the rule has). */
  enableDefaultDeny: { ingress?: boolean; egress?: boolean };
  description?: string;
  labels: Record<string, string>;
  log?: string;
}

/** A loaded policy document: one CNP/CCNP/KNP, or one bare rule list. */
export interface Policy {
  origin: PolicyOrigin;
  rules: PolicyRule[];
}

/** A CiliumCIDRGroup document, loaded so `cidrGroupRef`/`cidrGroupSelector` can resolve. */
export interface CidrGroup {
  name: string;
  labels: Record<string, string>;
  cidrs: string[];
  position: SourcePosition;
}

/** A document of another kind in a policy file: skipped, with a note. */
export interface SkippedDocument {
  kind: string;
  name: string | undefined;
  position: SourcePosition;
  note: string;
}
