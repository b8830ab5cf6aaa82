// Which corpus files meshd rejects, and why. corpus.test.ts fails when a file's rejection codes
// (sorted, de-duplicated) differ from this table: a new rejection, a rejection that disappeared
// or a changed code. Update it deliberately, after reading the printed problem.
//
// Keys are paths relative to shared/corpus/cilium-policies. A rendered template is keyed
// `<path> (rendered)` or `<path> (rendered: <variant>)` (see template-data.ts). The raw form of
// every template is not listed: the test requires exactly MESHD_ERR_POLICY_TEMPLATE for it.
//
// Every entry was judged against Cilium's semantics (shared/research/cilium.md §1). An entry
// marked `suspect` is a rejection believed to be a meshd bug — a policy Cilium accepts; it is kept
// here so the suite stays green while the bug is open, is printed in the test summary, and must
// be deleted when the loader is fixed (the test then reports the rejection as disappeared).

import type { PolicyErrorCode } from '../../policy/index.js';

export interface ExpectedRejection {
  codes: readonly PolicyErrorCode[];
  /** One line: why the file is rejected. */
  why: string;
  /** Set (to the reason) when the rejection is believed to be a meshd bug. */
  suspect?: string;
}

export const EXPECTED_REJECTIONS: Readonly<Record<string, ExpectedRejection>> = {
  // --- fields and constructs current Cilium (v1.20) no longer has ---------------------------------
  'v1.18-dev/examples/policies/l3/requires/requires.json': {
    codes: ['MESHD_ERR_POLICY_REMOVED_FIELD'],
    why: 'fromRequires was removed (v1.19 cycle; CRD maxItems: 0)',
  },
  'v1.20-dev/examples/policies/l3/requires/requires.yaml': {
    codes: ['MESHD_ERR_POLICY_REMOVED_FIELD'],
    why: 'fromRequires was removed; upstream keeps this example as a negative case',
  },
  'v1.20-dev/examples/policies/auth/auth.yaml': {
    codes: ['MESHD_ERR_POLICY_REMOVED_FIELD'],
    why: '`auth: {type: "null"}` was replaced by `authentication: {mode: ...}`; the example is stale upstream',
  },

  // --- valid Cilium that meshd deliberately does not enforce --------------------------------------
  'v1.20-dev/examples/policies/host/allow-extended-protocols.yaml': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'extended IP protocols (VRRP, GRE, IPIP, IPV6, ESP, AH) are not enforced by meshd; Cilium also needs --enable-extended-ip-protocols',
  },
  'v1.9/examples/kubernetes-cassandra/cass-sw-security-policy.yaml': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto cassandra (proxylib parser) not supported by meshd; l7proto was removed in Cilium v1.20',
  },
  'v1.9/examples/kubernetes-memcached/memcd-sw-security-policy.yaml': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto memcache not supported by meshd; l7proto was removed in Cilium v1.20',
  },
  'v1.9/test/runtime/manifests/Policies-cassandra-allow-all.json': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto cassandra not supported by meshd',
  },
  'v1.9/test/runtime/manifests/Policies-cassandra-no-insert-posts.json': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto cassandra not supported by meshd',
  },
  'v1.9/test/runtime/manifests/Policies-memcache-allow-key-get.json': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto memcache not supported by meshd',
  },
  'v1.9/test/runtime/manifests/Policies-memcache-allow-key.json': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto memcache not supported by meshd',
  },
  'v1.9/test/runtime/manifests/Policies-memcache-allow.json': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto memcache not supported by meshd',
  },
  'v1.9/test/runtime/manifests/Policies-memcache-disallow-set.json': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'l7proto memcache not supported by meshd',
  },

  // --- invalid as written (upstream negative cases or harness placeholders) -----------------------
  'v1.9/test/k8sT/manifests/invalid_cnp.yaml': {
    codes: ['MESHD_ERR_POLICY_UNSUPPORTED'],
    why: 'HTTP rules on UDP (upstream invalid_cnp test: "L7 rules can only apply to TCP")',
  },
  'v1.9/test/k8sT/manifests/cnp-update-no-specs.yaml': {
    codes: ['MESHD_ERR_POLICY_MISSING_FIELD'],
    why: 'CNP with neither spec nor specs (Cilium ErrEmptyCNP; upstream update test expects rejection)',
  },
  'v1.9/test/k8sT/manifests/cnp-update-allow-all.yaml': {
    codes: ['MESHD_ERR_POLICY_EMPTY_RULE'],
    why: 'rule without ingress/egress sections: "rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny" since Cilium 1.15',
  },
  'v1.20-dev/test/k8s/manifests/ccnp-host-ingress-from-cidr-to-ports.yaml': {
    codes: ['MESHD_ERR_POLICY_INVALID_CIDR'],
    why: 'NODE_WITHOUT_CILIUM_IP placeholder, not a CIDR (the Ginkgo suite seds it in)',
  },
  'v1.20-dev/test/k8s/manifests/ccnp-host-policy-nodeport-tests.yaml': {
    codes: ['MESHD_ERR_POLICY_INVALID_CIDR'],
    why: 'NODE_WITHOUT_CILIUM_IP placeholder, not a CIDR',
  },
  'v1.20-dev/examples/kubernetes/connectivity-check/connectivity-check-proxy.yaml': {
    codes: ['MESHD_ERR_POLICY_DUPLICATE_NAME'],
    why: 'duplicate policy name in one generated file (CNP default/echo-c twice; identical copies, kubectl would just re-apply)',
  },
  'v1.20-dev/test/k8s/manifests/cnp-ingress-from-cidr-to-ports.yaml': {
    codes: ['MESHD_ERR_POLICY_INVALID_CIDR'],
    why: 'NODE_WITHOUT_CILIUM_IP placeholder, not a CIDR',
  },

  // --- rendered templates ------------------------------------------------------------------------
  // None: every rendering loads. (The cidrGroupRef/cidrGroupSelector + `except` renderings of
  // client-egress-to-cidrgroup-external-deny*.yaml were rejected until the loader accepted
  // `except` next to a CIDR group, as Cilium's CIDRRule.Validate does.)
};
