// Kubernetes NetworkPolicy (networking.k8s.io/v1) → meshd rules, with the same meaning Cilium
// gives it (pkg/k8s/network_policy.go): pod selectors are namespace-scoped, namespace selectors
// match namespace labels, an empty `from`/`to` allows every peer, ports default to TCP.

import type { CidrRule, Direction, LabelSelector, PeerRule, PeerSelector, PolicyOrigin, PolicyRule, PortProtocol, PortRule, SelectorRequirement } from '../model.js';
import { describe, formatPath, type Checker, type Field } from './checker.js';
import { checkSelector } from './selector.js';
import { prefixContains } from '../cidr/index.js';
import { isServiceName, readCidr } from './field-readers.js';
import { NAMESPACE_LABELS_PREFIX, POD_NAMESPACE_KEY, namespaceRequirement } from './namespace-scope.js';

export function checkNetworkPolicySpec(c: Checker, spec: Field, origin: PolicyOrigin, namespace: string): PolicyRule | undefined {
  const before = c.problems.length;
  const s = c.object(spec.value, spec.path, { known: ['podSelector', 'policyTypes', 'ingress', 'egress'] }, 'a NetworkPolicy spec');
  if (!s) return undefined;
  const podSelectorField = s.get('podSelector');
  if (!podSelectorField) c.report('MESHD_ERR_POLICY_MISSING_FIELD', spec.path, 'a NetworkPolicy spec needs podSelector', 'use `podSelector: {}` to select every pod of the namespace');
  const podSelector = podSelectorField && checkSelector(c, podSelectorField, 'podSelector');

  const types = c.list(s.get('policyTypes'), 'policyTypes', (t) => {
    if (t.value === 'Ingress' || t.value === 'Egress') return t.value;
    c.report('MESHD_ERR_POLICY_INVALID_VALUE', t.path, `policyTypes entries are Ingress or Egress, not ${describe(t.value)}`);
    return undefined;
  });
  const policyTypes = types ?? ['Ingress', ...(s.has('egress') ? ['Egress'] : [])];

  const sections: Record<Direction, PeerRule[]> = { ingress: [], egress: [] };
  for (const direction of ['ingress', 'egress'] as const) {
    const peersKey = direction === 'ingress' ? 'from' : 'to';
    const rules = c.list(s.get(direction), direction, (r) => {
      const rf = c.object(r.value, r.path, { known: [peersKey, 'ports'] }, `a NetworkPolicy ${direction} rule`);
      if (!rf) return undefined;
      const ports = c.list(rf.get('ports'), 'ports', (p) => checkPort(c, p)) ?? [];
      const toPorts: PortRule[] = ports.length ? [{ ports, serverNames: [], position: c.positionOf(rf.get('ports')!.path) }] : [];
      const peersField = rf.get(peersKey);
      const base = { direction, isDeny: false, toPorts, icmps: [] };
      // No `from`/`to`, or an empty list: every peer, in and outside the cluster.
      if (!peersField || (Array.isArray(peersField.value) && peersField.value.length === 0)) {
        return [{ ...base, peers: { kind: 'entities', entities: ['all'] }, path: formatPath(r.path), position: c.positionOf(r.path) } satisfies PeerRule];
      }
      const peers = c.list(peersField, peersKey, (p) => checkPeer(c, p, namespace)) ?? [];
      return peers.map(({ peers: sel, path }): PeerRule => ({ ...base, peers: sel, path: formatPath(path), position: c.positionOf(path) }));
    });
    for (const list of rules ?? []) sections[direction].push(...list);
    const isEnforced = policyTypes.includes(direction === 'ingress' ? 'Ingress' : 'Egress');
    if (!isEnforced) sections[direction] = [];
    else if (sections[direction].length === 0) {
      // The direction is in policyTypes with no rule: deny all (default-deny with no allow).
      sections[direction].push({ direction, isDeny: false, peers: { kind: 'nothing' }, toPorts: [], icmps: [], path: formatPath(spec.path), position: c.positionOf(spec.path) });
    }
  }
  if (c.problems.length !== before || !podSelector) return undefined;
  return {
    origin,
    ruleIndex: 0,
    path: formatPath(spec.path),
    position: c.positionOf(spec.path),
    subject: { kind: 'endpoints', selector: { requirements: [...podSelector.requirements.filter((r) => r.key !== POD_NAMESPACE_KEY), namespaceRequirement(namespace)] } },
    ingress: sections.ingress,
    ingressDeny: [],
    egress: sections.egress,
    egressDeny: [],
    enableDefaultDeny: {},
    labels: {},
  };
}

function checkPeer(c: Checker, p: Field, namespace: string): { peers: PeerSelector; path: Field['path'] } | undefined {
  const f = c.object(p.value, p.path, { known: ['podSelector', 'namespaceSelector', 'ipBlock'] }, 'a NetworkPolicy peer');
  if (!f) return undefined;
  const ipBlock = f.get('ipBlock');
  if (ipBlock) {
    if (f.has('podSelector') || f.has('namespaceSelector')) {
      c.report('MESHD_ERR_POLICY_CONFLICT', ipBlock.path, 'ipBlock cannot be combined with podSelector or namespaceSelector in one peer', undefined, 'key');
      return undefined;
    }
    const b = c.object(ipBlock.value, ipBlock.path, { known: ['cidr', 'except'] }, 'ipBlock');
    const cidrField = b?.get('cidr');
    if (b && !cidrField) c.report('MESHD_ERR_POLICY_MISSING_FIELD', ipBlock.path, 'ipBlock needs "cidr"');
    const cidr = cidrField && readCidr(c, cidrField, { allowBareAddress: false });
    if (!cidr) return undefined;
    const except = c.list(b?.get('except'), 'except', (e) => {
      const ex = readCidr(c, e, { allowBareAddress: false });
      if (ex && !prefixContains(cidr, ex)) {
        c.report('MESHD_ERR_POLICY_INVALID_CIDR', e.path, `except ${ex.canonical} is not inside ${cidr.canonical}`);
        return undefined;
      }
      return ex?.canonical;
    }) ?? [];
    const rule: CidrRule = { cidr: cidr.canonical, except };
    return { peers: { kind: 'cidr', cidrs: [rule] }, path: p.path };
  }
  const podField = f.get('podSelector');
  const nsField = f.get('namespaceSelector');
  if (!podField && !nsField) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', p.path, 'a NetworkPolicy peer needs podSelector, namespaceSelector or ipBlock');
    return undefined;
  }
  const pod = podField ? checkSelector(c, podField, 'podSelector') : { requirements: [] };
  const ns = nsField ? checkSelector(c, nsField, 'namespaceSelector') : undefined;
  if (!pod || (nsField && !ns)) return undefined;
  const requirements: SelectorRequirement[] = [...pod.requirements];
  if (ns) {
    if (ns.requirements.length === 0) requirements.push({ source: 'k8s', key: POD_NAMESPACE_KEY, operator: 'Exists', values: [] });
    for (const r of ns.requirements) requirements.push({ ...r, source: 'k8s', key: NAMESPACE_LABELS_PREFIX + r.key });
  } else {
    requirements.push(namespaceRequirement(namespace));
  }
  const selector: LabelSelector = { requirements };
  return { peers: { kind: 'endpoints', selectors: [selector] }, path: p.path };
}

function checkPort(c: Checker, p: Field): PortProtocol | undefined {
  const f = c.object(p.value, p.path, { known: ['port', 'endPort', 'protocol'] }, 'a NetworkPolicy port');
  if (!f) return undefined;
  const protoField = f.get('protocol');
  const proto = c.string(protoField, 'protocol') ?? 'TCP';
  if (proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP') {
    c.report('MESHD_ERR_POLICY_INVALID_VALUE', protoField?.path ?? p.path, `protocol must be TCP, UDP or SCTP, not "${proto}"`);
    return undefined;
  }
  const out: PortProtocol = { port: 0, protocol: proto, position: c.positionOf(p.path) };
  const portField = f.get('port');
  if (portField) {
    if (typeof portField.value === 'string') {
      if (!isServiceName(portField.value)) {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', portField.path, `invalid named port "${portField.value}"`);
        return undefined;
      }
      out.port = portField.value;
    } else {
      const n = c.integer(portField, 'port', 1, 65535);
      if (n === undefined) return undefined;
      out.port = n;
    }
  }
  const end = c.integer(f.get('endPort'), 'endPort', 1, 65535);
  if (end !== undefined) {
    if (typeof out.port !== 'number' || out.port === 0) {
      c.report('MESHD_ERR_POLICY_CONFLICT', f.get('endPort')!.path, 'endPort needs a numeric port', undefined, 'key');
      return undefined;
    }
    if (end < out.port) {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', f.get('endPort')!.path, `endPort ${end} is below port ${out.port}`);
      return undefined;
    }
    out.endPort = end;
  }
  return out;
}
