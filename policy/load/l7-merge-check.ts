// Cilium merges the L7 rules of every rule that names the same peers and port (mergePortProto
// in pkg/policy/rule.go); rules of different L7 protocols there cannot merge, and the policy is
// refused. meshd checks it per policy at load time, so the file is rejected with the place.

import type { PolicyProblem } from '../errors.js';
import type { Policy, PeerRule } from '../model.js';
import { selectorKey } from '../labels/index.js';

export function checkL7Merge(policy: Policy): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  const seen = new Map<string, { type: string; peerRule: PeerRule }>();
  for (const rule of policy.rules) {
    // Only rules with the same subject are sure to meet on one endpoint; rules with different
    // subjects conflict only if an endpoint matches both, which depends on the endpoints.
    const subject = selectorKey(rule.subject.selector);
    for (const pr of [...rule.ingress, ...rule.egress]) {
      for (const portRule of pr.toPorts) {
        if (!portRule.rules) continue;
        for (const p of portRule.ports) {
          const key = `${subject}|${pr.direction}|${peersKey(pr)}|${p.protocol}|${p.port}|${p.endPort ?? ''}`;
          const earlier = seen.get(key);
          if (earlier && earlier.type !== portRule.rules.type) {
            problems.push({
              code: 'MESHD_ERR_POLICY_L7_MERGE',
              message: `${portRule.rules.type.toUpperCase()} rules on ${pr.direction} port ${p.port}/${p.protocol} for the same peers as the ${earlier.type.toUpperCase()} rules at line ${earlier.peerRule.position.line}: L7 rules of different protocols cannot merge`,
              path: pr.path,
              position: portRule.position,
              hint: 'use one L7 protocol per port and peer set',
            });
          } else if (!earlier) seen.set(key, { type: portRule.rules.type, peerRule: pr });
        }
      }
    }
  }
  return problems;
}

function peersKey(pr: PeerRule): string {
  const p = pr.peers;
  switch (p.kind) {
    case 'endpoints':
    case 'nodes':
      return `${p.kind}:${p.selectors.map(selectorKey).sort().join('|')}`;
    default:
      return `${p.kind}:${JSON.stringify(p)}`;
  }
}
