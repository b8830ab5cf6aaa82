// Labels of node-local identities for CIDRs and DNS-learned IPs (cilium pkg/labels/cidr.go).
// One `cidr:` label per policy prefix containing the address lets a CIDR rule with `except`
// be a plain selector: `cidr:10.0.0.0/8` Exists and `cidr:10.1.0.0/16` DoesNotExist.
import { prefixContains } from '../cidr/index.js';
import type { Prefix } from '../cidr/index.js';
import type { Label, LabelSet } from '../labels/index.js';
import { worldIdentityOf } from './reserved-identities.js';

/** World labels of the family (see reserved-identities.ts), the prefix's own `cidr:` label, and those of the policy prefixes containing it. */
export function cidrIdentityLabels(prefix: Prefix, policyPrefixes: readonly Prefix[]): LabelSet {
  const containing = policyPrefixes.filter((p) => prefixContains(p, prefix));
  return worldIdentityOf(prefix.family).labels.with([prefix, ...containing].map(cidrLabel));
}

/** An IP learned from DNS: its CIDR labels plus `fqdn:<selector>` for each toFQDNs selector that matched the name. */
export function fqdnIdentityLabels(fqdnSelectors: readonly string[], prefix: Prefix, policyPrefixes: readonly Prefix[]): LabelSet {
  return cidrIdentityLabels(prefix, policyPrefixes).with(fqdnSelectors.map((key): Label => ({ source: 'fqdn', key, value: '' })));
}

function cidrLabel(prefix: Prefix): Label {
  return { source: 'cidr', key: prefix.canonical, value: '' };
}
