// Envoy's filter chain selection (FilterChainMatch). Envoy prunes the chains in a fixed order of
// criteria and at each step keeps only the chains that match the connection MOST specifically;
// there is no backtracking, so a chain that wins one step but fails a later one sends the
// connection to the default chain even if a less specific chain would have matched throughout
// (listener_components.proto, FilterChainMatch). The steps:
//   1 destination_port (a chain naming the port beats one without)   2 prefix_ranges (longest prefix)
//   3 server_names (exact, then the longest `*.suffix` wildcard, then none)   4 transport_protocol
//   5 application_protocols   6 direct_source_prefix_ranges   7 source_type   8 source_prefix_ranges
//   9 source_ports.
// An empty criterion matches anything at the lowest specificity; a chain whose criterion does not
// match is out. Two chains with an identical match are refused at config time, as Envoy does.
import { isIP } from 'node:net';
import { envoy } from '../../xds/index.js';
import { compileCidrRangeDetailed, type CompiledCidr } from '../matchers/index.js';
import { at, type Problems } from './problems.js';
import type { ConnectionFacts } from './types.js';

export interface ChainMatch {
  destinationPort: number | undefined;
  prefixRanges: CompiledCidr[];
  serverNames: string[];
  transportProtocol: string;
  applicationProtocols: string[];
  directSourcePrefixRanges: CompiledCidr[];
  sourceType: 'any' | 'local' | 'external';
  sourcePrefixRanges: CompiledCidr[];
  sourcePorts: number[];
}

export const MATCH_ANY: ChainMatch = {
  destinationPort: undefined,
  prefixRanges: [],
  serverNames: [],
  transportProtocol: '',
  applicationProtocols: [],
  directSourcePrefixRanges: [],
  sourceType: 'any',
  sourcePrefixRanges: [],
  sourcePorts: [],
};

export function compileChainMatch(p: Problems, path: string, m: envoy.FilterChainMatch | undefined): ChainMatch {
  if (!m) return MATCH_ANY;
  const cidrs = (field: string, list: readonly envoy.CidrRange[]) => list.flatMap((c, i) => p.take(compileCidrRangeDetailed(c, at(path, `${field}[${i}]`))) ?? []);
  if (m.destinationPort !== undefined && (m.destinationPort < 1 || m.destinationPort > 65535)) p.add(at(path, 'destination_port'), 'must be in [1, 65535]');
  m.sourcePorts.forEach((port, i) => {
    if (port < 1 || port > 65535) p.add(at(path, `source_ports[${i}]`), 'must be in [1, 65535]');
  });
  const serverNames = m.serverNames.map((name, i) => {
    // Envoy accepts exact names and one leading `*.` wildcard.
    const wildcard = name.indexOf('*');
    if (name === '' || (wildcard >= 0 && (wildcard !== 0 || !name.startsWith('*.') || name.indexOf('*', 1) >= 0))) {
      p.add(at(path, `server_names[${i}]`), `"${name}" is not an exact name or a *.suffix wildcard`);
    }
    return name.toLowerCase();
  });
  const S = envoy.FilterChainMatch_ConnectionSourceType;
  const sourceType = m.sourceType === S.SAME_IP_OR_LOOPBACK ? 'local' : m.sourceType === S.EXTERNAL ? 'external' : 'any';
  return {
    destinationPort: m.destinationPort,
    prefixRanges: cidrs('prefix_ranges', m.prefixRanges),
    serverNames,
    transportProtocol: m.transportProtocol,
    applicationProtocols: [...m.applicationProtocols],
    directSourcePrefixRanges: cidrs('direct_source_prefix_ranges', m.directSourcePrefixRanges),
    sourceType,
    sourcePrefixRanges: cidrs('source_prefix_ranges', m.sourcePrefixRanges),
    sourcePorts: [...m.sourcePorts],
  };
}

/** True when the match reads facts only tls_inspector provides. */
export function needsTlsFacts(m: ChainMatch): boolean {
  return m.serverNames.length > 0 || m.transportProtocol !== '' || m.applicationProtocols.length > 0;
}

const OUT = -1;

type Stage = (m: ChainMatch, facts: ConnectionFacts) => number;

function cidrScore(ranges: readonly CompiledCidr[], ip: string): number {
  if (ranges.length === 0) return 0;
  let best = OUT;
  for (const r of ranges) if (r.length > best && r.contains(ip)) best = r.length;
  return best;
}

function serverNameScore(names: readonly string[], serverName: string): number {
  if (names.length === 0) return 0;
  if (serverName === '') return OUT;
  const sni = serverName.toLowerCase();
  let best = OUT;
  for (const name of names) {
    if (name === sni) return 1000; // exact beats every wildcard (names are at most 255 long)
    // `*.example.com` matches `a.example.com` and `a.b.example.com`; longer suffixes are more specific.
    if (name.startsWith('*.') && sni.length > name.length - 1 && sni.endsWith(name.slice(1))) best = Math.max(best, name.length);
  }
  return best;
}

function isLocal(facts: ConnectionFacts): boolean {
  const source = unmapV4(facts.sourceIp);
  if (source === unmapV4(facts.destinationIp)) return true;
  return isIP(source) === 4 ? source.startsWith('127.') : source === '::1';
}

function unmapV4(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

const STAGES: readonly Stage[] = [
  (m, f) => (m.destinationPort === undefined ? 0 : m.destinationPort === f.destinationPort ? 1 : OUT),
  (m, f) => cidrScore(m.prefixRanges, f.destinationIp),
  (m, f) => serverNameScore(m.serverNames, f.serverName),
  (m, f) => (m.transportProtocol === '' ? 0 : m.transportProtocol === f.transportProtocol ? 1 : OUT),
  (m, f) => (m.applicationProtocols.length === 0 ? 0 : m.applicationProtocols.some((a) => f.applicationProtocols.includes(a)) ? 1 : OUT),
  // No PROXY protocol in the built-in proxy: the direct source is the source.
  (m, f) => cidrScore(m.directSourcePrefixRanges, f.sourceIp),
  (m, f) => (m.sourceType === 'any' ? 0 : (m.sourceType === 'local') === isLocal(f) ? 1 : OUT),
  (m, f) => cidrScore(m.sourcePrefixRanges, f.sourceIp),
  (m, f) => (m.sourcePorts.length === 0 ? 0 : m.sourcePorts.includes(f.sourcePort) ? 1 : OUT),
];

/** Which connection facts a stage reads (for the selection cache key). */
const STAGE_FACTS: ReadonlyArray<ReadonlyArray<keyof ConnectionFacts>> = [
  ['destinationPort'],
  ['destinationIp'],
  ['serverName'],
  ['transportProtocol'],
  ['applicationProtocols'],
  ['sourceIp'],
  ['sourceIp', 'destinationIp'],
  ['sourceIp'],
  ['sourcePort'],
];

const STAGE_USED: ReadonlyArray<(m: ChainMatch) => boolean> = [
  (m) => m.destinationPort !== undefined,
  (m) => m.prefixRanges.length > 0,
  (m) => m.serverNames.length > 0,
  (m) => m.transportProtocol !== '',
  (m) => m.applicationProtocols.length > 0,
  (m) => m.directSourcePrefixRanges.length > 0,
  (m) => m.sourceType !== 'any',
  (m) => m.sourcePrefixRanges.length > 0,
  (m) => m.sourcePorts.length > 0,
];

/** Selections remembered per listener; cleared when full (connections from the same peers repeat). */
const CACHE_LIMIT = 4096;

/**
 * A selector over chains in listener order; returns the index of the chosen chain, or -1.
 * Stages no chain uses are skipped (every chain would score 0 there), the destination port step is
 * an index lookup, and results are cached by the facts the used stages read: meshd's listeners
 * carry a chain per endpoint and port, and a linear walk over thousands of them per connection
 * would cost tens of microseconds.
 */
export function chainSelector(matches: readonly ChainMatch[]): (facts: ConnectionFacts) => number {
  const used = STAGES.map((_, s) => matches.some(STAGE_USED[s]!));
  const stages = STAGES.filter((_, s) => s > 0 && used[s]);
  const keyFacts = [...new Set(STAGE_FACTS.filter((_, s) => used[s]).flat())];
  const byPort = new Map<number, number[]>();
  const noPort: number[] = [];
  matches.forEach((m, i) => {
    if (m.destinationPort === undefined) noPort.push(i);
    else {
      const list = byPort.get(m.destinationPort);
      if (list) list.push(i);
      else byPort.set(m.destinationPort, [i]);
    }
  });
  const cache = new Map<string, number>();
  const select = (facts: ConnectionFacts): number => {
    let candidates = byPort.get(facts.destinationPort) ?? noPort;
    // A lone candidate still goes through every stage: it must match each criterion it names.
    for (const stage of stages) {
      if (candidates.length === 0) return -1;
      candidates = prune(candidates, stage, facts);
    }
    return candidates[0] ?? -1;
  };
  const prune = (candidates: readonly number[], stage: Stage, facts: ConnectionFacts): number[] => {
    let best = OUT;
    let kept: number[] = [];
    for (const i of candidates) {
      const score = stage(matches[i]!, facts);
      if (score === OUT || score < best) continue;
      if (score > best) {
        best = score;
        kept = [i];
      } else kept.push(i);
    }
    return kept;
  };
  return (facts) => {
    let key = '';
    for (const k of keyFacts) key += `${String(facts[k])}|`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const chosen = select(facts);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, chosen);
    return chosen;
  };
}

/**
 * Two chains that would match the same connection equally specifically make Envoy refuse the
 * listener ("multiple filter chains with the same matching rules are defined"). Each chain is
 * expanded into its criteria combinations (Envoy's match tree has one leaf per combination); a
 * combination used twice is a problem at the second chain's filter_chain_match.
 */
export function checkDuplicateMatches(p: Problems, chainPaths: readonly string[], matches: readonly ChainMatch[]): void {
  const seen = new Map<string, number>();
  const LIMIT = 200_000;
  let count = 0;
  for (let i = 0; i < matches.length; i++) {
    const m = matches[i]!;
    const dims: string[][] = [
      [String(m.destinationPort ?? '')],
      m.prefixRanges.length ? m.prefixRanges.map((c) => c.canonical) : [''],
      m.serverNames.length ? m.serverNames : [''],
      [m.transportProtocol],
      m.applicationProtocols.length ? m.applicationProtocols : [''],
      m.directSourcePrefixRanges.length ? m.directSourcePrefixRanges.map((c) => c.canonical) : [''],
      [m.sourceType],
      m.sourcePrefixRanges.length ? m.sourcePrefixRanges.map((c) => c.canonical) : [''],
      m.sourcePorts.length ? m.sourcePorts.map(String) : [''],
    ];
    let keys = [''];
    for (const dim of dims) keys = keys.flatMap((k) => dim.map((v) => `${k}|${v}`));
    count += keys.length;
    if (count > LIMIT) {
      p.warn(`over ${LIMIT} filter chain match combinations: duplicate matches were not checked`);
      return;
    }
    for (const key of keys) {
      const previous = seen.get(key);
      if (previous !== undefined && previous !== i) {
        p.add(at(chainPaths[i]!, 'filter_chain_match'), `matches the same connections as ${chainPaths[previous]} (Envoy refuses the listener)`);
        break;
      }
      seen.set(key, i);
    }
  }
}
