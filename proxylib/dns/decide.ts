// The DNS filter's decision, in the proto's order (xds/proto/meshd/filters/dns/v1/dns.proto), for a
// peer S (the resolver's security identity for EGRESS) on destination port N and Question[0]'s name:
//   1. a deny rule covering (S, N) refuses it;
//   2. no rule covers (S, N): refused when default_deny, else allowed;
//   3. a covering rule with l3l4_only / visibility_only / no names allows every query;
//   4. otherwise allowed when some covering rule's names match the name (policy's FQDN matcher:
//      case-insensitive, trailing dot, Cilium's `*`, `**.` and bare `*`).
// The query type is not looked at, as in Cilium (cilium.md §3.3).
import { normalizeDnsName, type DnsPeerMatch, type DnsPolicyConfig } from './compile-policy.js';

export type DnsQueryDecision =
  | { allowed: true; policy: string | undefined }
  | { allowed: false; policy: string | undefined; reason: 'dns_deny_rule' | 'dns_default_deny' | 'dns_name_denied' };

function covers(m: DnsPeerMatch, identity: number, port: number): boolean {
  if (m.ports && (port < m.ports.start || port > m.ports.end)) return false;
  return m.anyRemote || m.identities.has(identity);
}

/** `name` as the query carries it (any case, trailing dot or not; escaped labels never match). */
export function decideQuery(policy: DnsPolicyConfig, identity: number, port: number, name: string): DnsQueryDecision {
  const deny = policy.denyRules.find((d) => covers(d, identity, port));
  if (deny) return { allowed: false, policy: deny.name, reason: 'dns_deny_rule' };
  const covering = policy.rules.filter((r) => covers(r, identity, port));
  if (covering.length === 0) {
    return policy.defaultDeny ? { allowed: false, policy: undefined, reason: 'dns_default_deny' } : { allowed: true, policy: undefined };
  }
  const allowAll = covering.find((r) => r.allowsEveryName);
  if (allowAll) return { allowed: true, policy: allowAll.name };
  const normalized = name === '' ? '' : normalizeDnsName(name);
  for (const rule of covering) {
    if (normalized === '') continue; // the empty name matches no name rule (policy's matcher agrees)
    if (rule.exactNames.has(normalized) || rule.patternIndex.matches(normalized, name)) return { allowed: true, policy: rule.name };
  }
  return { allowed: false, policy: undefined, reason: 'dns_name_denied' };
}
