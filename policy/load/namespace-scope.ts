// Cilium's namespace scoping (pkg/k8s/apis/cilium.io/utils/utils.go): a CiliumNetworkPolicy only
// selects endpoints of its own namespace, and its peer selectors only pods of its namespace
// unless they say otherwise; a cluster-wide policy's peer selectors only select managed pods.

import type { LabelSelector, PeerRule, PolicyRule, SelectorRequirement } from '../model.js';

export const POD_NAMESPACE_KEY = 'io.kubernetes.pod.namespace';
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';

export interface ScopeWarning {
  message: string;
  rule: PolicyRule;
}

export function namespaceRequirement(namespace: string): SelectorRequirement {
  return { source: 'k8s', key: POD_NAMESPACE_KEY, operator: 'In', values: [namespace] };
}

/** `namespace` undefined = cluster-wide policy. Returns a new rule; the input is not modified. */
export function scopeRule(rule: PolicyRule, namespace: string | undefined, warnings: ScopeWarning[]): PolicyRule {
  let subject = rule.subject;
  if (namespace !== undefined && subject.kind === 'endpoints') {
    const kept = subject.selector.requirements.filter((r) => !isNamespaceKey(r));
    const dropped = subject.selector.requirements.length - kept.length;
    const conflicting = subject.selector.requirements.some((r) => isNamespaceKey(r) && !(r.operator === 'In' && r.values.length === 1 && r.values[0] === namespace));
    if (dropped > 0 && conflicting) {
      warnings.push({ message: `endpointSelector names another namespace; a CiliumNetworkPolicy only selects endpoints of its own namespace "${namespace}"`, rule });
    }
    subject = { kind: 'endpoints', selector: { requirements: [...kept, namespaceRequirement(namespace)] } };
  }
  const scopePeers = (rules: PeerRule[]): PeerRule[] =>
    rules.map((pr) =>
      pr.peers.kind === 'endpoints'
        ? { ...pr, peers: { kind: 'endpoints', selectors: pr.peers.selectors.map((s) => scopePeerSelector(s, namespace)) } }
        : pr,
    );
  return {
    ...rule,
    subject,
    ingress: scopePeers(rule.ingress),
    ingressDeny: scopePeers(rule.ingressDeny),
    egress: scopePeers(rule.egress),
    egressDeny: scopePeers(rule.egressDeny),
  };
}

function scopePeerSelector(sel: LabelSelector, namespace: string | undefined): LabelSelector {
  const req = sel.requirements;
  if (req.some((r) => r.source === 'reserved')) return sel;
  if (req.some((r) => isNamespaceKey(r) || r.key.startsWith(NAMESPACE_LABELS_PREFIX))) return sel;
  const added: SelectorRequirement =
    namespace === undefined ? { source: 'k8s', key: POD_NAMESPACE_KEY, operator: 'Exists', values: [] } : namespaceRequirement(namespace);
  return { requirements: [...req, added] };
}

function isNamespaceKey(r: SelectorRequirement): boolean {
  return r.key === POD_NAMESPACE_KEY && (r.source === 'any' || r.source === 'k8s');
}
