// EndpointPolicy (policy layer) → the entries of one endpoint's kernel policy trie.
//
// The kernel looks up a flow with two LPM probes, the peer's identity and 0 (any peer), and
// combines the two summaries with lookupFlow's rules (bpf/lib/policy.h says how). So every
// trie entry here is a summary, computed per (direction, peer class, protocol):
//   1. each PolicyEntry becomes atoms: one per peer class (each identity its selectors
//      select, or 0 for "any peer"), per concrete protocol (ANY = TCP, UDP, SCTP, as in
//      entryMatches), with an inclusive port range (0–0 = every port);
//   2. every atom's range is cut into aligned port prefixes; the keys of a group are the union
//      of those prefixes;
//   3. each key's value sums up the atoms that contain the whole key: deny, plain allow, and
//      the narrowest L7 allow with its proxy port. Prefixes nest, so an atom covering any
//      flow whose longest match is the key covers the whole key: the summary is exact.
// Each direction also gets a sentinel entry carrying its default-deny, so one trie swap
// changes entries and enforcement together.
import type { Direction, DirectionPolicy, EndpointPolicy, L7Type, LabelSelector, NamedPort, PolicyEntry } from '../../policy/index.js';
import { DIRECTION, IPPROTO, POLICY_FLAGS, POLICY_L7_SPAN_NONE, POLICY_SENTINEL_PROTOCOL } from './constants.js';
import type { PolicyKey, PolicyValue } from './codecs.js';

export interface PolicyMapEntry {
  key: PolicyKey;
  value: PolicyValue;
}

/** What one endpoint's trie holds: the entries (sentinels included) and the enforcement
 *  they carry, for Datapath.replacePolicy. */
export interface PolicyMapContent {
  entries: PolicyMapEntry[];
  ingressEnforced: boolean;
  egressEnforced: boolean;
  /** Policy entries the kernel cannot enforce, and why (ICMP, unresolved named ports, ...). */
  skipped: SkippedPolicyEntry[];
}

export interface SkippedPolicyEntry {
  entry: PolicyEntry;
  reason: string;
}

export interface PolicyTranslationOptions {
  /** The numeric identities a selector selects now: SelectorCache.register(s).selections(). */
  identitiesOf(selector: LabelSelector): Iterable<number>;
  /** The node proxy's listener for an L7 entry; undefined or 0 → the kernel denies the flow
   *  with PROXY_UNAVAILABLE rather than let it bypass L7 rules. */
  proxyPortOf(l7Type: L7Type, direction: Direction, port: number): number | undefined;
  /** Egress named ports (`port: http`): the ports that name stands for on any endpoint. The
   *  kernel cannot tell which destination has which named port, so the union is allowed. */
  namedPortsOf?(name: string): readonly NamedPort[];
}

type AtomKind = 'deny' | 'allow' | 'l7';

interface Atom {
  peer: number;
  protocol: number;
  start: number;
  end: number;
  kind: AtomKind;
  proxyPort: number;
  /** lookupFlow's specificity: port count − 1 (0 for a named port, 65536 for every port). */
  span: number;
}

const PROTOCOL_NUMBERS = { TCP: [IPPROTO.TCP], UDP: [IPPROTO.UDP], SCTP: [IPPROTO.SCTP], ANY: [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.SCTP] } as const;

export function translateEndpointPolicy(policy: Pick<EndpointPolicy, 'ingress' | 'egress'>, options: PolicyTranslationOptions): PolicyMapContent {
  const skipped: SkippedPolicyEntry[] = [];
  const entries = [
    ...translateDirection('ingress', policy.ingress, options, skipped),
    ...translateDirection('egress', policy.egress, options, skipped),
  ];
  return { entries, ingressEnforced: policy.ingress.isDefaultDeny, egressEnforced: policy.egress.isDefaultDeny, skipped };
}

function translateDirection(direction: Direction, policy: DirectionPolicy, options: PolicyTranslationOptions, skipped: SkippedPolicyEntry[]): PolicyMapEntry[] {
  const dir = DIRECTION[direction];
  const groups = new Map<string, Atom[]>();
  for (const entry of policy.entries) {
    for (const atom of atomsOf(entry, direction, options, skipped)) {
      const id = `${atom.peer}/${atom.protocol}`;
      const group = groups.get(id);
      if (group) group.push(atom);
      else groups.set(id, [atom]);
    }
  }
  const out: PolicyMapEntry[] = [
    {
      key: { peerIdentity: 0, direction: dir, protocol: POLICY_SENTINEL_PROTOCOL, port: 0, portPrefixBits: 16 },
      value: { flags: policy.isDefaultDeny ? POLICY_FLAGS.defaultDeny : 0, proxyPort: 0, l7Span: POLICY_L7_SPAN_NONE },
    },
  ];
  for (const atoms of groups.values()) {
    const { peer, protocol } = atoms[0]!;
    const prefixes = new Map<string, PortPrefix>();
    for (const a of atoms) for (const p of portPrefixes(a.start, a.end)) prefixes.set(`${p.port}/${p.bits}`, p);
    for (const p of prefixes.values()) {
      const last = p.port + 2 ** (16 - p.bits) - 1;
      const value: PolicyValue = { flags: 0, proxyPort: 0, l7Span: POLICY_L7_SPAN_NONE };
      for (const a of atoms) {
        if (a.start > p.port || a.end < last) continue;
        if (a.kind === 'deny') value.flags |= POLICY_FLAGS.deny;
        else if (a.kind === 'allow') value.flags |= POLICY_FLAGS.allow;
        else {
          value.flags |= POLICY_FLAGS.l7;
          // Strictly narrower: among equals the earlier entry wins, as lookupFlow's stable sort.
          if (a.span < value.l7Span) {
            value.l7Span = a.span;
            value.proxyPort = a.proxyPort;
          }
        }
      }
      out.push({ key: { peerIdentity: peer, direction: dir, protocol, port: p.port, portPrefixBits: p.bits }, value });
    }
  }
  return out;
}

function atomsOf(entry: PolicyEntry, direction: Direction, options: PolicyTranslationOptions, skipped: SkippedPolicyEntry[]): Atom[] {
  if (entry.protocol === 'ICMP' || entry.protocol === 'ICMPv6') {
    skipped.push({ entry, reason: 'ICMP is not enforced by the kernel datapath (no socket hook sees it)' });
    return [];
  }
  const peers = peerClassesOf(entry, options);
  if (peers.length === 0) return [];

  // Named egress ports become the ports of that name, each with its own protocol.
  let ranges: Array<{ protocols: readonly number[]; start: number; end: number; span: number }>;
  if (entry.namedPort !== undefined) {
    const named = (options.namedPortsOf?.(entry.namedPort) ?? []).filter((np) => entry.protocol === 'ANY' || np.protocol === entry.protocol);
    if (named.length === 0) {
      skipped.push({ entry, reason: `named port "${entry.namedPort}" is not known on any endpoint` });
      return [];
    }
    ranges = named.map((np) => ({ protocols: PROTOCOL_NUMBERS[np.protocol], start: np.port, end: np.port, span: 0 }));
  } else {
    const isAll = entry.portStart === 0 && entry.portEnd === 0;
    ranges = [
      {
        protocols: PROTOCOL_NUMBERS[entry.protocol],
        start: isAll ? 0 : entry.portStart,
        end: isAll ? 65535 : entry.portEnd,
        span: isAll ? 65536 : entry.portEnd - entry.portStart,
      },
    ];
  }

  const kind: AtomKind = entry.isDeny ? 'deny' : entry.l7 ? 'l7' : 'allow';
  const proxyPort = kind === 'l7' ? (options.proxyPortOf(entry.l7!.type, direction, ranges[0]!.start) ?? 0) : 0;
  const atoms: Atom[] = [];
  for (const peer of peers) {
    for (const r of ranges) {
      for (const protocol of r.protocols) atoms.push({ peer, protocol, start: r.start, end: r.end, kind, proxyPort, span: r.span });
    }
  }
  return atoms;
}

function peerClassesOf(entry: PolicyEntry, options: PolicyTranslationOptions): number[] {
  if (entry.peers === undefined) return [0];
  const ids = new Set<number>();
  for (const selector of entry.peers) for (const id of options.identitiesOf(selector)) if (id !== 0) ids.add(id);
  return [...ids].sort((a, b) => a - b);
}

export interface PortPrefix {
  port: number;
  /** Leading bits fixed: 16 = one port, 0 = all 65536. */
  bits: number;
}

/** The fewest aligned prefixes that exactly cover start..end (inclusive). */
export function portPrefixes(start: number, end: number): PortPrefix[] {
  const out: PortPrefix[] = [];
  let port = start;
  while (port <= end) {
    // The largest power-of-two block aligned at `port` that does not run past `end`.
    let size = port === 0 ? 65536 : port & -port;
    while (port + size - 1 > end) size /= 2;
    out.push({ port, bits: 16 - Math.log2(size) });
    port += size;
  }
  return out;
}

/** The verdict the kernel reaches for one flow, computed the way bpf/lib/policy.h does it
 *  (longest prefix per probe, then the combination). For tests and `trace`-style tools. */
export function decideFromEntries(
  entries: readonly PolicyMapEntry[],
  flow: { direction: Direction; peerIdentity: number; protocol: number; port: number },
  endpointEnforced = false,
): { verdict: 'allowed' | 'denied' | 'redirected'; dropReason: number; proxyPort: number } {
  const dir = DIRECTION[flow.direction];
  const longest = (peer: number): PolicyValue | undefined => {
    let best: PolicyMapEntry | undefined;
    for (const e of entries) {
      const k = e.key;
      if (k.peerIdentity !== peer || k.direction !== dir || k.protocol !== flow.protocol) continue;
      const shift = 16 - k.portPrefixBits;
      if (flow.port >>> shift !== k.port >>> shift) continue;
      if (!best || k.portPrefixBits > best.key.portPrefixBits) best = e;
    }
    return best?.value;
  };
  let flags = 0;
  let span = POLICY_L7_SPAN_NONE;
  let proxyPort = 0;
  for (const v of flow.peerIdentity !== 0 ? [longest(flow.peerIdentity), longest(0)] : [longest(0)]) {
    if (!v) continue;
    flags |= v.flags;
    if (v.flags & POLICY_FLAGS.l7 && v.l7Span < span) [span, proxyPort] = [v.l7Span, v.proxyPort];
  }
  if (flags & POLICY_FLAGS.deny) return { verdict: 'denied', dropReason: 1, proxyPort: 0 };
  if (flags & POLICY_FLAGS.allow) return { verdict: 'allowed', dropReason: 0, proxyPort: 0 };
  if (flags & POLICY_FLAGS.l7) return { verdict: 'redirected', dropReason: 0, proxyPort };
  const sentinel = entries.find((e) => e.key.peerIdentity === 0 && e.key.direction === dir && e.key.protocol === POLICY_SENTINEL_PROTOCOL);
  const enforced = sentinel ? (sentinel.value.flags & POLICY_FLAGS.defaultDeny) !== 0 : endpointEnforced;
  return enforced ? { verdict: 'denied', dropReason: 2, proxyPort: 0 } : { verdict: 'allowed', dropReason: 0, proxyPort: 0 };
}
