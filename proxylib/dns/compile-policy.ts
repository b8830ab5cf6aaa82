// The compiler of meshd.filters.dns.v1.DnsPolicy, the DNS filter's typed config (a network filter
// for DNS over TCP, a UDP listener filter for DNS over UDP): checks every field (problems at their
// proto paths, so the xDS client NACKs what the filter cannot run) and builds what the runtime needs
// — peer rules with identity sets and port ranges, and each rule's names as policy's FQDN matchers
// (one matcher for the proxy, `meshd policy trace` and toFQDNs).
//
// The xDS server validates the same config before sending it (xds/resources/dns-filter.ts), but the
// proxy also runs configs from any ADS server, so it checks again and refuses rather than runs
// something it would read differently.
import type { Message } from '@bufbuild/protobuf';
import { compileFqdnMatcher, parseIp } from '../../policy/index.js';
import { envoy } from '../../xds/index.js';
import { checkedDurationMs, type Problems } from '../config/problems.js';
import { checkedFilterConfig, COMMON_POLICY_FIELDS, compileDenyRules, compileDirection, compilePeerRules, compilePortRange, compileUpstreamCluster, joinPath as join, type PeerMatch, type SupportedFilterFields } from '../meshd-filters/index.js';
import { PatternIndex } from './pattern-index.js';

/** policy's toFQDNs / rules.dns name matcher (its type is not exported by policy's entry). */
export type FqdnMatcher = ReturnType<typeof compileFqdnMatcher>;

export const DNS_POLICY_TYPE = 'meshd.filters.dns.v1.DnsPolicy';

/** Cilium's DNS proxy gives up on the resolver after 10 s (pkg/fqdn/dnsproxy, ProxyForwardTimeout). */
export const DEFAULT_DNS_UPSTREAM_TIMEOUT_MS = 10_000;

/** A peer (the resolver, for EGRESS) the rule is for, on the destination ports it covers. */
export type DnsPeerMatch = PeerMatch;

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

// The fields of the config and what the proxy does with each (the common/v1 messages' and
// COMMON_POLICY_FIELDS are meshd-filters'); every set field not listed is a problem.
const DNS = 'meshd.filters.dns.v1.';
const SUPPORTED: SupportedFilterFields = {
  [`${DNS}DnsPolicy`]: new Set([...COMMON_POLICY_FIELDS, 'deny_response_code', 'upstream_timeout']),
  [`${DNS}DnsPeerRule`]: new Set(['name', 'remotes', 'ports', 'l3l4_only', 'visibility_only', 'names']),
  [`${DNS}DnsNameRule`]: new Set(['match_name', 'match_pattern']),
};

/** Lower-case, with the trailing dot: the form names are compared in (as policy's matcher does). */
export function normalizeDnsName(name: string): string {
  const lower = name.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** A canonical key of an IP address (one form for `::1` and `0:0::1`, v4-mapped as v4); undefined when not an IP. */
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
  const policy = checkedFilterConfig(config, envoy.DnsPolicySchema, SUPPORTED, base, p);
  if (!policy) return undefined;

  if (policy.statPrefix === '') p.add(at('stat_prefix'), 'must not be empty');
  const direction = compileDirection(p, at('direction'), policy.direction);
  const upstreamCluster = compileUpstreamCluster(p, at('upstream'), policy.upstream, 'the cluster allowed queries go to');

  const endpointIpKeys = new Set<string>();
  policy.endpointIps.forEach((ip, i) => {
    const key = ipKey(ip);
    if (key === undefined) p.add(at(`endpoint_ips[${i}]`), `"${ip}" is not an IP address`);
    else endpointIpKeys.add(key);
  });
  if (ctx.forUdp && policy.endpointIps.length === 0) p.add(at('endpoint_ips'), "must name the endpoint's addresses (a UDP listener picks the policy by them)");
  const destinationPorts = compilePortRange(p, at('destination_ports'), policy.destinationPorts);
  if (ctx.forUdp && !destinationPorts) p.add(at('destination_ports'), 'is required (a UDP listener picks the policy by it)');

  let denyRcode: DnsPolicyConfig['denyRcode'] = 'REFUSED';
  if (policy.denyResponseCode === envoy.DenyResponseCode.NAME_ERROR) denyRcode = 'NXDOMAIN';
  else if (policy.denyResponseCode !== envoy.DenyResponseCode.REFUSED) p.add(at('deny_response_code'), `unknown value ${policy.denyResponseCode}`);
  const upstreamTimeoutMs = checkedDurationMs(p, at('upstream_timeout'), policy.upstreamTimeout, DEFAULT_DNS_UPSTREAM_TIMEOUT_MS);
  if (policy.upstreamTimeout && upstreamTimeoutMs === 0) p.add(at('upstream_timeout'), 'must be longer than 0 (a query must not wait forever)');

  const denyRules = compileDenyRules(p, at('deny_rules'), policy.denyRules);
  const rules: DnsPeerRuleConfig[] = compilePeerRules(p, at('rules'), policy.rules, (r, path) => {
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
