// How a policy is named: the key that makes it unique in a Repository, and how people read it.

import type { PolicyOrigin } from './model.js';

/** Unique per policy, as a Kubernetes object is per kind, namespace and name; rule lists by file. */
export function policyKey(o: PolicyOrigin): string {
  return o.kind === 'CiliumRuleList' ? `${o.kind}/${o.position.file}` : `${o.kind}/${o.namespace ?? ''}/${o.name}`;
}

/** `namespace/name`, or just `name` for cluster-wide policies and rule lists. */
export function policyDisplayName(o: PolicyOrigin): string {
  return o.namespace ? `${o.namespace}/${o.name}` : o.name;
}
