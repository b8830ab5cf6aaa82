// Numeric identity ranges (cilium pkg/identity/numericidentity.go): cluster-wide label
// identities of cluster 0, and node-local ones (scope bit 1<<24) for CIDR/FQDN prefixes.
import type { LabelSet } from '../labels/index.js';

export type IdentityScope = 'global' | 'local';

export const IDENTITY_RANGES: Readonly<Record<IdentityScope, { readonly min: number; readonly max: number }>> = {
  global: { min: 256, max: 65535 },
  local: { min: 1 << 24, max: (1 << 25) - 1 },
};

// Mirrors identity.ScopeForLabels: only sets made wholly of these sources stay on the node.
const LOCAL_SOURCES: ReadonlySet<string> = new Set(['cidr', 'fqdn', 'cidrgroup', 'reserved']);

export function identityScopeForLabels(labels: LabelSet): IdentityScope {
  for (const label of labels) if (!LOCAL_SOURCES.has(label.source)) return 'global';
  return 'local';
}

export function identityScopeOfId(id: number): IdentityScope | undefined {
  for (const scope of ['global', 'local'] as const) {
    const { min, max } = IDENTITY_RANGES[scope];
    if (Number.isInteger(id) && id >= min && id <= max) return scope;
  }
  return undefined;
}
