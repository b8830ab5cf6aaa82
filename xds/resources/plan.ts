// The translation's intermediate form: what each resource is made of, in meshd's terms (peers as
// IP sets, L7 rules, TLS secret names), before any Envoy message exists. xds/translate produces it
// from resolved policy; the `build…` function of each resource file turns it into messages. Keeping
// this plain data lets tests read a plan and lets the builders stay free of policy knowledge.

/** A CIDR prefix: `address` is the network address as written in the ipcache (`10.0.0.0`, `fd00::`). */
export interface PrefixPlan {
  address: string;
  length: number;
}

/**
 * A set of IP addresses, as RBAC can express it. `or`/`and`/`not` exist because a peer's identity
 * is the one of the longest ipcache prefix holding its address: "inside 10.0.0.0/8 but not inside
 * the longer 10.1.0.0/16 that belongs to another identity".
 */
export type IpSetPlan =
  | { kind: 'any' }
  | { kind: 'none' }
  | { kind: 'prefix'; prefix: PrefixPlan }
  | { kind: 'or'; items: IpSetPlan[] }
  | { kind: 'and'; items: IpSetPlan[] }
  | { kind: 'not'; item: IpSetPlan };

/** Inclusive destination port range. */
export interface PortRangePlan {
  start: number;
  end: number;
}

/** A header requirement of an HTTP rule; names are lower-case (Envoy compares them that way). */
export type HeaderPlan = { name: string; kind: 'present' } | { name: string; kind: 'exact'; value: string } | { name: string; kind: 'regex'; regex: string };

/** One element of rules.http: every field must hold (RE2, full match). */
export interface HttpRequestPlan {
  method?: string;
  path?: string;
  host?: string;
  headers: HeaderPlan[];
  /** Set when the rule can never match (a secret header value meshd cannot read); the reason. */
  neverMatches?: string;
}

/** One RBAC policy: whom (peers), where (ports, SNI) and, for HTTP, which requests. */
export interface AccessRulePlan {
  /** Unique within its RBAC filter; names the policy and rule it came from. */
  name: string;
  /** The remote side: the source for ingress, the original destination for egress. */
  peers: IpSetPlan;
  /** Only when the rule covers fewer ports than its filter chain does. */
  ports?: PortRangePlan;
  /** TLS SNI patterns in Cilium's syntax (`*` one label, `**.` prefix any number); empty = any SNI. */
  serverNames: string[];
  /** HTTP requests allowed; 'any' for L3/L4 rules, visibility-only rules and non-HTTP chains. */
  requests: 'any' | HttpRequestPlan[];
}

export interface AccessPolicyPlan {
  direction: 'ingress' | 'egress';
  /** Checked first; any match refuses (deny beats allow). */
  deny: AccessRulePlan[];
  /** A request is allowed when one of these matches. Empty = nothing is allowed. */
  allow: AccessRulePlan[];
  /** Prefix of the RBAC filters' stats. */
  statPrefix: string;
}

/** SDS secret names a TLS context refers to. */
export interface DownstreamTlsPlan {
  certificateSecret: string;
  validationSecret?: string;
}

export interface UpstreamTlsPlan {
  validationSecret: string;
  clientCertificateSecret?: string;
}

export interface FilterChainMatchPlan {
  /** Original destination port (restored by the original_dst listener filter); absent = any. */
  destinationPort?: number;
  /** The original destination must be inside one of these (ingress: the endpoint's addresses). */
  destinationPrefixes: PrefixPlan[];
  /** The source must be inside one of these (egress: the endpoint's addresses). */
  sourcePrefixes: PrefixPlan[];
  /** `tls` for chains that terminate TLS or filter on SNI. */
  transportProtocol?: 'tls';
  /** Envoy server_names: exact names and `*.suffix` (any depth); a superset of the policy's patterns. */
  serverNames: string[];
}

export type ChainFilterPlan =
  | { kind: 'http'; access: AccessPolicyPlan; routeConfigName: string; statPrefix: string }
  | { kind: 'tcp'; access: AccessPolicyPlan; cluster: string; statPrefix: string }
  /** The built-in proxy's own filters; the typed config is built by kafka-filter.ts / dns-filter.ts. */
  | { kind: 'kafka'; config: import('./kafka-filter.js').KafkaPolicyPlan }
  | { kind: 'dns'; config: import('./dns-filter.js').DnsPolicyPlan };

export interface FilterChainPlan {
  name: string;
  match: FilterChainMatchPlan;
  /** Terminate TLS with these secrets (a tls transport socket); absent = plaintext or pass-through. */
  downstreamTls?: DownstreamTlsPlan;
  filter: ChainFilterPlan;
}

export interface ListenerPlan {
  name: string;
  protocol: 'TCP' | 'UDP';
  /** The proxy's addresses, IPv4 first; the first is `address`, the rest `additional_addresses`. */
  addresses: string[];
  port: number;
  /** TCP listeners. */
  chains: FilterChainPlan[];
  /** UDP listeners (DNS for the built-in proxy): one listener filter per endpoint policy. */
  udpFilters: Array<{ name: string; config: import('./dns-filter.js').DnsPolicyPlan }>;
}

/** Every cluster connects to the downstream connection's original destination (ORIGINAL_DST, CLUSTER_PROVIDED). */
export interface ClusterPlan {
  name: string;
  upstreamTls?: UpstreamTlsPlan;
  connectTimeoutMs: number;
}

export interface RouteConfigPlan {
  name: string;
  /** Every request of the listener goes to this cluster; the RBAC filter has decided already. */
  cluster: string;
}

export type SecretPlan =
  | { name: string; kind: 'tls-certificate'; certificateChain: string; privateKey: string }
  | { name: string; kind: 'validation-context'; trustedCa: string };

export interface EndpointsPlan {
  clusterName: string;
  addresses: Array<{ address: string; port: number }>;
}
