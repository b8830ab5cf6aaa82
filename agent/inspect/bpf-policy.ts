// `meshd bpf policy get POD`: the entries of one endpoint's kernel policy trie, decoded into what
// they mean (direction, peer identity and its labels, protocol, ports, verdict) and, where the
// translation can tell, the policies they come from.
//
// Where the entries come from: the live trie when the datapath offers a reader of it
// (`readPolicy`), otherwise the translation of the endpoint's current resolved policy, which
// is exactly what the agent's reconciler writes (translateEndpointPolicy with the agent's
// selector cache and proxy ports) — the report says which in `source`.
import { DIRECTION, decideFromEntries, translateEndpointPolicy } from '../../bpf/index.js';
import type { PolicyMapContent, PolicyMapEntry, PolicyTranslationOptions } from '../../bpf/index.js';
import { policyDisplayName } from '../../policy/index.js';
import type { CachedSelector, EndpointPolicy, LabelSelector, LabelSet, PolicyEntry } from '../../policy/index.js';
import { InspectError } from './errors.js';
import { parsePodRef } from './pod-ref.js';
import { compactLabels, renderTable } from './table.js';

export interface BpfPolicySources {
  endpoint(id: string): { endpointId: number; identity: number } | undefined;
  endpointPolicy(id: string): Pick<EndpointPolicy, 'ingress' | 'egress'> | undefined;
  selectorCache: {
    get(selector: LabelSelector): CachedSelector | undefined;
    register(selector: LabelSelector): CachedSelector;
    unregister(selector: CachedSelector): void;
  };
  labelsOf(identity: number): LabelSet | undefined;
  proxyPortOf: PolicyTranslationOptions['proxyPortOf'];
  /** The live trie's entries (sentinels included); absent or undefined → the translation is shown. */
  readPolicy?: ((endpointId: number) => readonly PolicyMapEntry[] | undefined) | undefined;
}

export type BpfVerdict = 'allow' | 'deny' | 'redirect';

export interface BpfPolicyRow {
  direction: 'ingress' | 'egress';
  /** 0 = any peer. */
  peerIdentity: number;
  peerLabels: string[];
  protocol: string;
  /** `80`, `8000-8003`, or `*` (every port). */
  ports: string;
  portStart: number;
  portEnd: number;
  verdict: BpfVerdict;
  /** The node proxy port a redirect goes to. */
  proxyPort?: number;
  /** Display names (`namespace/name`) of the policies whose rules made the entry; `agent: allow-localhost` for the agent's own. */
  policies: string[];
}

export interface BpfPolicyReport {
  pod: string;
  endpointId: number;
  identity: number;
  source: 'kernel' | 'computed';
  sourceNote: string;
  ingressEnforced: boolean;
  egressEnforced: boolean;
  entries: BpfPolicyRow[];
  /** Policy entries the kernel cannot enforce, and why. */
  skipped: Array<{ direction: 'ingress' | 'egress'; policy: string; reason: string }>;
  /** Rules whose peers select no identity now (a toFQDNs name not resolved yet, no pod with
   *  those labels): they have no entry until one appears. */
  unmatched: Array<{ direction: 'ingress' | 'egress'; policy: string; peers: string[] }>;
}

/** IANA protocol numbers (the trie's key). */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };
const ENTRY_PROTOCOLS: Readonly<Record<string, readonly number[]>> = { TCP: [6], UDP: [17], SCTP: [132], ANY: [6, 17, 132] };
const DIRECTION_NAMES = new Map<number, 'ingress' | 'egress'>(Object.entries(DIRECTION).map(([name, n]) => [n, name as 'ingress' | 'egress']));
/** The per-direction sentinel (default-deny carrier) has protocol 0 and peer 0. */
const SENTINEL_PROTOCOL = 0;

export function bpfPolicyOf(sources: BpfPolicySources, podRef: string): BpfPolicyReport {
  const { id } = parsePodRef(podRef);
  const endpoint = sources.endpoint(id);
  const policy = sources.endpointPolicy(id);
  if (!endpoint || !policy) {
    throw new InspectError('MESHD_ERR_INSPECT_POD_NOT_FOUND', `no pod ${id} is an endpoint of this agent`, '`meshd endpoint list` shows the endpoints; give NAMESPACE/NAME');
  }

  // Selectors the reconciler registered are reused; any other is registered for this call only.
  const temporary: CachedSelector[] = [];
  const selectorOf = (s: LabelSelector): CachedSelector => {
    const known = sources.selectorCache.get(s);
    if (known) return known;
    const c = sources.selectorCache.register(s);
    temporary.push(c);
    return c;
  };
  try {
    const computed: PolicyMapContent = translateEndpointPolicy(policy, { identitiesOf: (s) => selectorOf(s).selections(), proxyPortOf: sources.proxyPortOf });
    const live = sources.readPolicy?.(endpoint.endpointId);
    const entries = live ?? computed.entries;
    const enforced = (direction: 'ingress' | 'egress'): boolean => {
      const sentinel = entries.find((e) => e.key.peerIdentity === 0 && e.key.protocol === SENTINEL_PROTOCOL && DIRECTION_NAMES.get(e.key.direction) === direction);
      if (!sentinel) return direction === 'ingress' ? computed.ingressEnforced : computed.egressEnforced;
      return decideFromEntries([sentinel], { direction, peerIdentity: 0, protocol: SENTINEL_PROTOCOL, port: 0 }).verdict === 'denied';
    };
    const rows = entries
      .filter((e) => e.key.protocol !== SENTINEL_PROTOCOL)
      .map((e) => rowOf(e, policy, selectorOf, sources.labelsOf))
      .sort(compareRows);
    return {
      pod: id,
      endpointId: endpoint.endpointId,
      identity: endpoint.identity,
      source: live ? 'kernel' : 'computed',
      sourceNote: live
        ? 'read from the kernel policy map'
        : "the agent's translation of the pod's current policy, which is what it writes to the kernel (the datapath offers no reader of the live map)",
      ingressEnforced: enforced('ingress'),
      egressEnforced: enforced('egress'),
      entries: rows,
      skipped: computed.skipped.map((s) => ({ direction: s.entry.direction, policy: originName(s.entry), reason: s.reason })),
      unmatched: unmatchedPeers(policy, selectorOf),
    };
  } finally {
    for (const c of temporary) sources.selectorCache.unregister(c);
  }
}

function rowOf(e: PolicyMapEntry, policy: Pick<EndpointPolicy, 'ingress' | 'egress'>, selectorOf: (s: LabelSelector) => CachedSelector, labelsOf: BpfPolicySources['labelsOf']): BpfPolicyRow {
  const direction = DIRECTION_NAMES.get(e.key.direction) ?? 'ingress';
  const portStart = e.key.port;
  const portEnd = e.key.port + 2 ** (16 - e.key.portPrefixBits) - 1;
  // The entry alone, as the kernel reads its flags: deny beats allow beats redirect.
  const decided = decideFromEntries([e], { direction, peerIdentity: e.key.peerIdentity, protocol: e.key.protocol, port: e.key.port });
  const verdict: BpfVerdict = decided.verdict === 'denied' ? 'deny' : decided.verdict === 'redirected' ? 'redirect' : 'allow';
  const origins = new Set<string>();
  for (const pe of policy[direction].entries) {
    if (coversKey(pe, e, selectorOf)) origins.add(originName(pe));
  }
  return {
    direction,
    peerIdentity: e.key.peerIdentity,
    peerLabels: e.key.peerIdentity === 0 ? [] : (labelsOf(e.key.peerIdentity)?.toStrings() ?? []),
    protocol: PROTOCOL_NAMES[e.key.protocol] ?? String(e.key.protocol),
    ports: e.key.portPrefixBits === 0 ? '*' : portStart === portEnd ? String(portStart) : `${portStart}-${portEnd}`,
    portStart,
    portEnd,
    verdict,
    ...(verdict === 'redirect' ? { proxyPort: decided.proxyPort } : {}),
    policies: [...origins].sort(),
  };
}

/** Whether a resolved policy entry contributed to a trie key: same peer class, protocol, and
 *  its port range holds the key's whole prefix (named ports: any port of the protocol). */
function coversKey(pe: PolicyEntry, e: PolicyMapEntry, selectorOf: (s: LabelSelector) => CachedSelector): boolean {
  const protocols = ENTRY_PROTOCOLS[pe.protocol];
  if (!protocols || !protocols.includes(e.key.protocol)) return false;
  const peer = e.key.peerIdentity;
  if (peer === 0 ? pe.peers !== undefined : pe.peers === undefined || !pe.peers.some((s) => selectorOf(s).matches(peer))) return false;
  if (pe.namedPort !== undefined) return true;
  const all = pe.portStart === 0 && pe.portEnd === 0;
  const start = all ? 0 : pe.portStart;
  const end = all ? 65535 : pe.portEnd;
  const keyEnd = e.key.port + 2 ** (16 - e.key.portPrefixBits) - 1;
  return start <= e.key.port && keyEnd <= end;
}

function unmatchedPeers(policy: Pick<EndpointPolicy, 'ingress' | 'egress'>, selectorOf: (s: LabelSelector) => CachedSelector): BpfPolicyReport['unmatched'] {
  const out = new Map<string, BpfPolicyReport['unmatched'][number]>();
  for (const direction of ['ingress', 'egress'] as const) {
    for (const pe of policy[direction].entries) {
      if (pe.peers === undefined || pe.peers.some((s) => selectorOf(s).selections().size > 0)) continue;
      const item = { direction, policy: originName(pe), peers: pe.peers.map(formatSelector) };
      out.set(JSON.stringify(item), item);
    }
  }
  return [...out.values()];
}

/** `fqdn:api.example.com`, `any:app=db & k8s:io.kubernetes.pod.namespace=prod`, `k8s:tier in (a,b)`. */
function formatSelector(selector: LabelSelector): string {
  const parts = selector.requirements.map((r) => {
    const label = `${r.source}:${r.key}`;
    switch (r.operator) {
      case 'In':
        return r.values.length === 1 ? `${label}=${r.values[0]}` : `${label} in (${r.values.join(',')})`;
      case 'NotIn':
        return `${label} notin (${r.values.join(',')})`;
      case 'Exists':
        return label;
      case 'DoesNotExist':
        return `!${label}`;
      default:
        return `${label} ${String(r.operator)} (${r.values.join(',')})`;
    }
  });
  return parts.join(' & ') || '(every identity)';
}

function originName(pe: PolicyEntry): string {
  return pe.origin.kind === 'rule' ? policyDisplayName(pe.origin.rule.origin) : `agent: ${pe.origin.kind}`;
}

function compareRows(a: BpfPolicyRow, b: BpfPolicyRow): number {
  return a.direction.localeCompare(b.direction) * -1 || a.peerIdentity - b.peerIdentity || a.protocol.localeCompare(b.protocol) || a.portStart - b.portStart || a.portEnd - b.portEnd;
}

export function renderBpfPolicy(r: BpfPolicyReport): string {
  const lines = [
    `pod ${r.pod}  endpoint ${r.endpointId}  identity ${r.identity}`,
    `source: ${r.source}: ${r.sourceNote}`,
    `ingress: ${r.ingressEnforced ? 'default deny' : 'not enforced (everything allowed unless denied)'}`,
    `egress:  ${r.egressEnforced ? 'default deny' : 'not enforced (everything allowed unless denied)'}`,
    '',
  ];
  let out = lines.join('\n') + '\n';
  if (r.entries.length === 0) {
    out += '(no entries: no policy selects this pod)\n';
  } else {
    out += renderTable(
      ['DIRECTION', 'PEER', 'PEER LABELS', 'PROTO', 'PORTS', 'VERDICT', 'POLICY'],
      r.entries.map((e) => [
        e.direction,
        e.peerIdentity === 0 ? 'any' : String(e.peerIdentity),
        e.peerIdentity === 0 ? '-' : compactLabels(e.peerLabels) || '(unknown identity)',
        e.protocol,
        e.ports,
        e.verdict === 'redirect' ? `redirect:${e.proxyPort}` : e.verdict,
        e.policies.join(',') || '-',
      ]),
    );
  }
  for (const s of r.skipped) out += `not enforced by the kernel (${s.direction}, ${s.policy}): ${s.reason}\n`;
  for (const u of r.unmatched) out += `no peer identity yet (${u.direction}, ${u.policy}): ${u.peers.join(' | ')}\n`;
  return out;
}
