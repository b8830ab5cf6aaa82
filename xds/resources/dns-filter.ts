// The built-in proxy's DNS filter config (meshd.filters.dns.v1.DnsPolicy): one endpoint's rules.dns
// on one redirected port, for DNS over TCP (network filter) and over UDP (UDP listener filter).
// Its meaning is spelled out in the proto; it mirrors lookupFlow and policy/l7/match-dns-rules.ts.
import { create } from '@bufbuild/protobuf';
import { DurationSchema, type Any } from '@bufbuild/protobuf/wkt';
import { packAny } from '../codec/index.js';
import { DenyResponseCode, DnsPolicySchema, type DnsPolicy } from '../generated/meshd/filters/dns/v1/dns_pb.js';
import { commonParts, validateCommonParts, type PeerPolicyPlan } from './peer-policy.js';
import { ProblemList, type ResourceProblem } from './problems.js';

export type DnsNamePlan = { matchName: string } | { matchPattern: string };

export type DnsPolicyPlan = PeerPolicyPlan<DnsNamePlan> & {
  /** What a denied query gets (DnsPolicy.deny_response_code); absent → REFUSED, Cilium's default. */
  denyResponseCode?: 'refused' | 'nxdomain' | undefined;
  /** How long the proxy waits for the resolver (DnsPolicy.upstream_timeout); absent → the proxy's default (10 s). */
  upstreamTimeoutMs?: number | undefined;
};

export function buildDnsPolicy(plan: DnsPolicyPlan): DnsPolicy {
  const common = commonParts(plan);
  return create(DnsPolicySchema, {
    ...common.init,
    rules: plan.rules.map((r) => ({
      ...common.ruleParts(r),
      names: r.requests.map((n) => ({
        rule: 'matchName' in n ? { case: 'matchName' as const, value: n.matchName } : { case: 'matchPattern' as const, value: n.matchPattern },
      })),
    })),
    denyResponseCode: plan.denyResponseCode === 'nxdomain' ? DenyResponseCode.NAME_ERROR : DenyResponseCode.REFUSED,
    ...(plan.upstreamTimeoutMs !== undefined ? { upstreamTimeout: durationOfMs(plan.upstreamTimeoutMs) } : {}),
  });
}

function durationOfMs(ms: number) {
  // Whole milliseconds, so a bad plan value (NaN, negative) becomes a Duration validation rejects.
  const whole = Number.isFinite(ms) ? Math.trunc(ms) : -1;
  return create(DurationSchema, { seconds: BigInt(Math.trunc(whole / 1000)), nanos: (whole % 1000) * 1_000_000 });
}

// Same character set as Cilium's CRD schema for matchName / matchPattern (the loader has checked
// already; this guards the config against a translation bug).
const NAME = /^[-a-zA-Z0-9_.]+$/;
const PATTERN = /^[-a-zA-Z0-9_.*]+$/;

export function validateDnsPolicy(policy: DnsPolicy): ResourceProblem[] {
  const p = new ProblemList();
  validateCommonParts(p, policy);
  if (policy.denyResponseCode !== DenyResponseCode.REFUSED && policy.denyResponseCode !== DenyResponseCode.NAME_ERROR) {
    p.add('deny_response_code', `${String(policy.denyResponseCode)} is not a DenyResponseCode`);
  }
  const timeout = policy.upstreamTimeout;
  // Unset means the proxy's default; set, it must be positive (a query must not wait forever or not at all).
  if (timeout && (timeout.seconds < 0n || timeout.nanos < 0 || (timeout.seconds === 0n && timeout.nanos === 0))) p.add('upstream_timeout', 'must be greater than 0');
  else if (timeout && (timeout.nanos > 999_999_999 || timeout.seconds > 315_576_000_000n)) p.add('upstream_timeout', 'is not a valid Duration');
  policy.rules.forEach((rule, i) =>
    rule.names.forEach((n, j) => {
      const at = `rules[${i}].names[${j}]`;
      if (n.rule.case === undefined) p.add(at, 'needs match_name or match_pattern');
      else if (n.rule.value.length === 0 || n.rule.value.length > 255) p.add(`${at}.${n.rule.case === 'matchName' ? 'match_name' : 'match_pattern'}`, 'must be 1–255 characters');
      else if (!(n.rule.case === 'matchName' ? NAME : PATTERN).test(n.rule.value)) p.add(`${at}.${n.rule.case === 'matchName' ? 'match_name' : 'match_pattern'}`, `"${n.rule.value}" has characters a DNS rule cannot have`);
    }),
  );
  return p.items;
}

export function encodeDnsPolicy(policy: DnsPolicy): Any {
  return packAny(DnsPolicySchema, policy);
}

export { DnsPolicySchema };
