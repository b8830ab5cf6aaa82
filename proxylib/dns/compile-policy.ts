// The compiler of meshd.filters.dns.v1.DnsPolicy, the DNS filter's typed config (a network filter
// for DNS over TCP, a UDP listener filter for DNS over UDP): checks every field (problems at their
// proto paths, so the xDS client NACKs what the filter cannot run) and builds what the runtime needs
// — peer rules with identity sets and port ranges, and each rule's names as policy's FQDN matchers
// (one matcher for the proxy, `meshd policy trace` and toFQDNs).
//
// The xDS server validates the same config before sending it (xds/resources/dns-filter.ts), but the
// proxy also runs configs from any ADS server, so it checks again and refuses rather than runs
// something it would read differently.
import type { DescMessage, Message } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { compileFqdnMatcher, parseIp } from '../../policy/index.js';
import { envoy } from '../../xds/index.js';
import { checkedDurationMs, NOT_IMPLEMENTED, type Problems } from '../config/problems.js';
import { PatternIndex } from './pattern-index.js';

/** policy's toFQDNs / rules.dns name matcher (its type is not exported by policy's entry). */
export type FqdnMatcher = ReturnType<typeof compileFqdnMatcher>;

export const DNS_POLICY_TYPE = 'meshd.filters.dns.v1.DnsPolicy';

/** Cilium's DNS proxy gives up on the resolver after 10 s (pkg/fqdn/dnsproxy, ProxyForwardTimeout). */
export const DEFAULT_DNS_UPSTREAM_TIMEOUT_MS = 10_000;

/** A peer (the resolver, for EGRESS) the rule is for, on the destination ports it covers. */
export interface DnsPeerMatch {
  /** The rule's origin (policy and rule path), for flow records. */
  name: string;
  anyRemote: boolean;
  identities: ReadonlySet<number>;
  /** Inclusive; undefined = every port the listener receives. */
  ports: { start: number; end: number } | undefined;
}

export interface DnsPeerRuleConfig extends DnsPeerMatch {
  /** l3l4_only, visibility_only, or no names: every query is allowed (decision step 3). */
  allowsEveryName: boolean;
  /** ORed with `patterns`: the match_name entries, lower-case and fully qualified (a set lookup, not 1,000 regexes). */
  exactNames: ReadonlySet<string>;
  /** ORed with `exactNames`: the match_pattern entries (policy's matcher). */
  patterns: FqdnMatcher[];
  /** `patterns` indexed by literal suffix: what a query is decided with (pattern-index.ts). */
  patternIndex: PatternIndex;
}

export interface DnsPolicyConfig {
  statPrefix: string;
  /** `namespace/name` of the endpoint whose policy this is. */
  endpoint: string;
  /** As the config has them (reported to the answer observer). */
  endpointIps: string[];
  /** Canonical forms of endpointIps, for the UDP listener's policy selection. */
  endpointIpKeys: ReadonlySet<string>;
  /** INGRESS: the peer is the query's source; EGRESS: its original destination (the resolver). */
  direction: 'ingress' | 'egress';
  /** Original destination ports this policy is for (UDP selection); undefined when unset. */
  destinationPorts: { start: number; end: number } | undefined;
  defaultDeny: boolean;
  denyRules: DnsPeerMatch[];
  rules: DnsPeerRuleConfig[];
  /** The cluster allowed queries go to (ORIGINAL_DST: the resolver the client asked). */
  upstreamCluster: string;
  /** RCODE of a refused query: 5 REFUSED (default) or 3 NXDOMAIN. */
  denyRcode: 'REFUSED' | 'NXDOMAIN';
  upstreamTimeoutMs: number;
}

// The fields of the config and what the proxy does with each. Every set field not listed is a
// problem, so a field added to the proto later is refused until the filter implements it (the same
// rule proxylib/config/supported-fields.ts applies to Envoy's types).
const DNS = 'meshd.filters.dns.v1.';
const COMMON = 'meshd.filters.common.v1.';
const SUPPORTED: Readonly<Record<string, ReadonlySet<string>>> = {
  [`${DNS}DnsPolicy`]: new Set([
    'stat_prefix',
    'endpoint',
    'direction',
    'default_deny',
    'deny_rules',
    'rules',
    'upstream',
    'endpoint_ips',
    'destination_ports',
    'deny_response_code',
    'upstream_timeout',
  ]),
  [`${DNS}DnsPeerRule`]: new Set(['name', 'remotes', 'ports', 'l3l4_only', 'visibility_only', 'names']),
  [`${DNS}DnsNameRule`]: new Set(['match_name', 'match_pattern']),
  [`${COMMON}DenyRule`]: new Set(['name', 'remotes', 'ports']),
  [`${COMMON}Remotes`]: new Set(['any', 'identities']),
  [`${COMMON}PortRange`]: new Set(['start', 'end']),
  [`${COMMON}Upstream`]: new Set(['cluster']),
};

function checkFields(msg: ReflectMessage, path: string, problems: Problems): void {
  const typeName = msg.desc.typeName;
  // Durations have no sub-field a proxy could ignore; their value is checked where it is read.
  if (typeName.startsWith('google.protobuf.')) return;
  const fields = SUPPORTED[typeName];
  if (!fields) {
    problems.add(path, `${typeName} ${NOT_IMPLEMENTED}`);
    return;
  }
  // Fields from a newer proto than the proxy's: their meaning is unknown, so is the config's.
  for (const u of msg.getUnknown() ?? []) problems.add(join(path, `<field ${u.no}>`), `field number ${u.no} of ${typeName} is unknown to this proxy`);
  for (const field of msg.fields) {
    if (!msg.isSet(field)) continue;
    const fieldPath = join(path, field.name);
    if (!fields.has(field.name)) {
      problems.add(fieldPath, NOT_IMPLEMENTED);
      continue;
    }
    if (field.fieldKind === 'message') checkFields(msg.get(field), fieldPath, problems);
    else if (field.fieldKind === 'list' && field.listKind === 'message') {
      let i = 0;
      for (const item of msg.get(field)) checkFields(item as ReflectMessage, `${fieldPath}[${i++}]`, problems);
    }
  }
}

function join(base: string, rel: string): string {
  return base === '' ? rel : `${base}.${rel}`;
}

/** A canonical key of an IP address (one form for `::1` and `0:0::1`, v4-mapped as v4); undefined when not an IP. */
/** Lower-case, with the trailing dot: the form names are compared in (as policy's matcher does). */
export function normalizeDnsName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') ? lower : `${lower}.`;
}

export function ipKey(ip: string): string | undefined {
  const parsed = parseIp(ip);
  return parsed.ok ? parsed.prefix.canonical : undefined;
}

/**
 * Compiles one DnsPolicy. Problems go into `problems` with paths below `path`; returns undefined
 * when there is any. `forUdp`: the policy of a UDP listener, which selects it by endpoint_ips and
 * destination_ports, so both are required there.
 */
export function compileDnsPolicyConfig(config: Message, ctx: { path: string; problems: Problems; forUdp: boolean }): DnsPolicyConfig | undefined {
  const p = ctx.problems;
  const before = p.items.length;
  const base = ctx.path;
  const at = (rel: string): string => join(base, rel);
  if (config.$typeName !== DNS_POLICY_TYPE) {
    p.add(base, `expected ${DNS_POLICY_TYPE}, got ${config.$typeName}`);
    return undefined;
  }
  const policy = config as envoy.DnsPolicy;
  checkFields(reflect(envoy.DnsPolicySchema as DescMessage, policy), base, p);

  if (policy.statPrefix === '') p.add(at('stat_prefix'), 'must not be empty');
  let direction: 'ingress' | 'egress' = 'egress';
  if (policy.direction === envoy.Direction.INGRESS) direction = 'ingress';
  else if (policy.direction === envoy.Direction.EGRESS) direction = 'egress';
  else p.add(at('direction'), 'must be INGRESS or EGRESS');
  const upstreamCluster = policy.upstream?.cluster ?? '';
  if (upstreamCluster === '') p.add(at('upstream.cluster'), 'must name the cluster allowed queries go to');

  const endpointIpKeys = new Set<string>();
  policy.endpointIps.forEach((ip, i) => {
    const key = ipKey(ip);
    if (key === undefined) p.add(at(`endpoint_ips[${i}]`), `"${ip}" is not an IP address`);
    else endpointIpKeys.add(key);
  });
  if (ctx.forUdp && policy.endpointIps.length === 0) p.add(at('endpoint_ips'), "must name the endpoint's addresses (a UDP listener picks the policy by them)");
  const destinationPorts = portRange(p, at('destination_ports'), policy.destinationPorts);
  if (ctx.forUdp && !destinationPorts) p.add(at('destination_ports'), 'is required (a UDP listener picks the policy by it)');

  let denyRcode: DnsPolicyConfig['denyRcode'] = 'REFUSED';
  if (policy.denyResponseCode === envoy.DenyResponseCode.NAME_ERROR) denyRcode = 'NXDOMAIN';
  else if (policy.denyResponseCode !== envoy.DenyResponseCode.REFUSED) p.add(at('deny_response_code'), `unknown value ${policy.denyResponseCode}`);
  const upstreamTimeoutMs = checkedDurationMs(p, at('upstream_timeout'), policy.upstreamTimeout, DEFAULT_DNS_UPSTREAM_TIMEOUT_MS);
  if (policy.upstreamTimeout && upstreamTimeoutMs === 0) p.add(at('upstream_timeout'), 'must be longer than 0 (a query must not wait forever)');

  const denyRules = policy.denyRules.map((d, i) => peerMatch(p, at(`deny_rules[${i}]`), d.name, d.remotes, d.ports));
  const names = new Set<string>();
  const rules = policy.rules.map((r, i): DnsPeerRuleConfig => {
    const path = at(`rules[${i}]`);
    if (names.has(r.name)) p.add(join(path, 'name'), `duplicate rule name "${r.name}"`);
    names.add(r.name);
    const exactNames = new Set<string>();
    const patterns: FqdnMatcher[] = [];
    const indexed: Array<{ pattern: string; matcher: FqdnMatcher }> = [];
    r.names.forEach((n, j) => {
      const matcher = nameMatcher(p, join(path, `names[${j}]`), n);
      // A valid match_name is [-a-zA-Z0-9_.] only (policy's validation), so comparing the normalized
      // strings is what its anchored regex does; an escaped query name (`\.`) never equals one.
      if (n.rule.case === 'matchName' && matcher.error === undefined) exactNames.add(normalizeDnsName(n.rule.value));
      else {
        patterns.push(matcher);
        indexed.push({ pattern: n.rule.case === undefined ? '' : n.rule.value, matcher });
      }
    });
    return {
      ...peerMatch(p, path, r.name, r.remotes, r.ports),
      allowsEveryName: r.l3l4Only || r.visibilityOnly || r.names.length === 0,
      exactNames,
      patterns,
      patternIndex: new PatternIndex(indexed),
    };
  });

  if (p.items.length > before) return undefined;
  return {
    statPrefix: policy.statPrefix,
    endpoint: policy.endpoint,
    endpointIps: [...policy.endpointIps],
    endpointIpKeys,
    direction,
    destinationPorts,
    defaultDeny: policy.defaultDeny,
    denyRules,
    rules,
    upstreamCluster,
    denyRcode,
    upstreamTimeoutMs,
  };
}

function nameMatcher(p: Problems, path: string, n: envoy.DnsNameRule): FqdnMatcher {
  const rule = n.rule;
  if (rule.case === undefined) {
    p.add(path, 'needs match_name or match_pattern');
    return compileFqdnMatcher({});
  }
  const matcher = compileFqdnMatcher(rule.case === 'matchName' ? { matchName: rule.value } : { matchPattern: rule.value });
  // An invalid selector would match no name; refusing the config says so instead.
  if (matcher.error !== undefined) p.add(join(path, rule.case === 'matchName' ? 'match_name' : 'match_pattern'), matcher.error);
  return matcher;
}

function peerMatch(p: Problems, path: string, name: string, remotes: envoy.Remotes | undefined, ports: envoy.PortRange | undefined): DnsPeerMatch {
  if (name === '') p.add(join(path, 'name'), 'must not be empty (flow records name the deciding rule)');
  // No remotes would mean "no peer"; a missing message is more likely a broken config than that.
  if (!remotes) p.add(join(path, 'remotes'), 'is required');
  return {
    name,
    anyRemote: remotes?.any ?? false,
    identities: new Set(remotes?.any ? [] : (remotes?.identities ?? [])),
    ports: portRange(p, join(path, 'ports'), ports),
  };
}

function portRange(p: Problems, path: string, r: envoy.PortRange | undefined): { start: number; end: number } | undefined {
  if (!r) return undefined;
  if (r.start < 1 || r.start > 65_535) p.add(join(path, 'start'), 'must be a port (1-65535)');
  if (r.end < 1 || r.end > 65_535) p.add(join(path, 'end'), 'must be a port (1-65535)');
  if (r.start > r.end) p.add(path, `start ${r.start} is after end ${r.end}`);
  return { start: r.start, end: r.end };
}
