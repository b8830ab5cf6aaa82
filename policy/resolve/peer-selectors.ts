// Every L3 peer kind reduces to label selectors over identities, as in Cilium's selector cache:
// endpoints by their labels, entities by reserved labels, CIDRs by `cidr:` labels that CIDR
// identities carry for each policy prefix containing them, toFQDNs by `fqdn:` labels of IPs
// learned from DNS. So one matcher (and, later, one kernel identity set) serves them all.

import type { CidrRule, LabelSelector, PeerSelector, SelectorRequirement } from '../model.js';
import { entitySelectors } from '../identity/index.js';
import { fqdnSelectorString } from '../fqdn/index.js';

/** The label key CIDR-group membership is expressed with (Cilium's cidrgroup label). */
export const CIDR_GROUP_NAME_KEY = 'io.cilium.policy.cidrgroupname';

/**
 * Selectors for a peer: undefined = every peer (an element with only toPorts/icmps);
 * an empty list = no peer.
 */
export function peerSelectors(peers: PeerSelector, clusterName: string): LabelSelector[] | undefined {
  switch (peers.kind) {
    case 'wildcard':
      return undefined;
    case 'nothing':
    case 'groups': // cloud security groups need a cloud provider; none is known offline
    case 'services': // resolved into endpoint/CIDR selectors once Services are known (issue: agent)
      return [];
    case 'endpoints':
      return peers.selectors;
    case 'nodes':
      // Node selectors match node identities only: the local host or a remote node.
      return peers.selectors.flatMap((s) =>
        ['host', 'remote-node'].map((node) => ({
          requirements: [...s.requirements.map(asNodeLabel), { source: 'reserved', key: node, operator: 'Exists' as const, values: [] }],
        })),
      );
    case 'entities':
      return peers.entities.flatMap((e) => entitySelectors(e, clusterName));
    case 'cidr':
      return peers.cidrs.map(cidrSelector);
    case 'fqdns':
      return peers.fqdns.map((f) => ({ requirements: [exists('fqdn', fqdnSelectorString(f))] }));
  }
}

function cidrSelector(rule: CidrRule): LabelSelector {
  if (rule.cidr !== undefined) {
    return { requirements: [exists('cidr', rule.cidr), ...rule.except.map((e) => ({ ...exists('cidr', e), operator: 'DoesNotExist' as const }))] };
  }
  const excepts = rule.except.map((e) => ({ ...exists('cidr', e), operator: 'DoesNotExist' as const }));
  if (rule.cidrGroupRef !== undefined) return { requirements: [exists('cidrgroup', `${CIDR_GROUP_NAME_KEY}/${rule.cidrGroupRef}`), ...excepts] };
  return { requirements: [...(rule.cidrGroupSelector?.requirements ?? []).map((r) => ({ ...r, source: 'cidrgroup' })), ...excepts] };
}

function asNodeLabel(r: SelectorRequirement): SelectorRequirement {
  return r.source === 'any' ? { ...r, source: 'node' } : r;
}

function exists(source: string, key: string): SelectorRequirement {
  return { source, key, operator: 'Exists', values: [] };
}

/** Every CIDR prefix the peer names (for allocating CIDR identities). */
export function peerPrefixes(peers: PeerSelector): string[] {
  if (peers.kind !== 'cidr') return [];
  return peers.cidrs.flatMap((c) => [...(c.cidr !== undefined ? [c.cidr] : []), ...c.except]);
}
