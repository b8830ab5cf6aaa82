// The kernel's verdict events carry no policy name (the maps hold identities and ports only), so
// the agent names the deciding policy itself: it looks the flow up in the endpoint's resolved
// policy with the same function `meshd policy trace` uses (policy's lookupFlow), and names the
// entry's origin as the trace does. A flow decided by no rule gets `default-deny`, or nothing when
// the direction is not enforced.
import { lookupFlow, policyDisplayName, type DirectionPolicy, type FlowKey, type L7Evaluator, type LabelSet, type LookupResult, type NamedPort, type PolicyEntry } from '../../policy/index.js';

export interface DecidingPolicy {
  /** `namespace/name` of the policy, `default-deny`, `allow-localhost (agent default)`, or undefined when nothing enforces. */
  policy: string | undefined;
  /** How the lookup decided (policy's LookupResult `by`). */
  by: LookupResult['by'];
}

/**
 * No L7 request is looked up here (the kernel never sees one), so lookupFlow stops at `l7-pending`
 * and never calls the evaluator; it exists only to satisfy the signature.
 */
const NO_L7: L7Evaluator = { http: () => false, kafka: () => false, dns: () => false };

export function entryPolicyName(entry: PolicyEntry): string {
  return entry.origin.kind === 'rule' ? policyDisplayName(entry.origin.rule.origin) : 'allow-localhost (agent default)';
}

export function namePolicyOf(result: LookupResult): string | undefined {
  switch (result.by) {
    case 'default-deny':
      return 'default-deny';
    case 'not-enforced':
      return undefined;
    case 'l7-pending':
    case 'no-l7-match':
      return [...new Set(result.entries.map(entryPolicyName))].join(',');
    default:
      return entryPolicyName(result.entry);
  }
}

/** Looks a kernel-level flow (peer labels, protocol, port) up in one direction of an endpoint's policy. */
export function decidingPolicy(
  policy: DirectionPolicy,
  flow: { remote: LabelSet; protocol: 'TCP' | 'UDP' | 'SCTP'; port: number; destinationNamedPorts?: readonly NamedPort[] },
): DecidingPolicy {
  const key: FlowKey = { remote: flow.remote, protocol: flow.protocol, port: flow.port, destinationNamedPorts: flow.destinationNamedPorts ?? [] };
  const result = lookupFlow(policy, key, undefined, NO_L7);
  return { policy: namePolicyOf(result), by: result.by };
}
