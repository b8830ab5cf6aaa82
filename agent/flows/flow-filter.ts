// Flow filters: parsed once from the API query (or the CLI's options) and matched per flow.
// A pod is written `ns/name`, `ns/` (every pod of the namespace) or `name` (namespace default),
// as hubble's --pod reads it.
import { FlowsError } from './errors.js';
import { FLOW_PROTOCOLS, FLOW_VERDICTS, type Flow, type FlowFilter, type FlowProtocol, type FlowVerdict } from './types.js';

/** The query parameters `GET /v1/flows` takes, and the CLI options of the same names. */
export const FLOW_QUERY_KEYS = { pod: 'pod', fromPod: 'from-pod', toPod: 'to-pod', verdict: 'verdict', protocol: 'protocol', last: 'last', follow: 'follow' } as const;

/** Every value of `key`: repeated parameters and comma-separated lists both work. */
function values(query: URLSearchParams, key: string): string[] {
  return query
    .getAll(key)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export function normalizePodRef(ref: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?)?$/i.test(ref)) {
    throw new FlowsError('MESHD_ERR_FLOWS_INVALID_FILTER', `"${ref}" is not a pod reference`, 'write NAMESPACE/NAME, NAMESPACE/ for a whole namespace, or NAME for the default namespace');
  }
  return ref.includes('/') ? ref : `default/${ref}`;
}

function oneOf<T extends string>(given: string[], allowed: readonly T[], what: string): T[] {
  return given.map((v) => {
    const found = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
    if (!found) throw new FlowsError('MESHD_ERR_FLOWS_INVALID_FILTER', `unknown ${what} "${v}"`, `use one of ${allowed.join(', ')}`);
    return found;
  });
}

export interface FlowQuery {
  filter: FlowFilter;
  last: number | undefined;
  follow: boolean;
}

export function parseFlowQuery(query: URLSearchParams): FlowQuery {
  const filter: FlowFilter = {};
  const pod = values(query, FLOW_QUERY_KEYS.pod).map(normalizePodRef);
  const fromPod = values(query, FLOW_QUERY_KEYS.fromPod).map(normalizePodRef);
  const toPod = values(query, FLOW_QUERY_KEYS.toPod).map(normalizePodRef);
  const verdict = oneOf(values(query, FLOW_QUERY_KEYS.verdict), FLOW_VERDICTS, 'verdict');
  const protocol = oneOf(values(query, FLOW_QUERY_KEYS.protocol), FLOW_PROTOCOLS, 'protocol');
  if (pod.length) filter.pod = pod;
  if (fromPod.length) filter.fromPod = fromPod;
  if (toPod.length) filter.toPod = toPod;
  if (verdict.length) filter.verdict = verdict;
  if (protocol.length) filter.protocol = protocol;
  const lastText = query.get(FLOW_QUERY_KEYS.last);
  let last: number | undefined;
  if (lastText !== null && lastText !== '') {
    last = Number(lastText);
    if (!Number.isInteger(last) || last < 0) throw new FlowsError('MESHD_ERR_FLOWS_INVALID_FILTER', `--last must be a whole number ≥ 0 (got "${lastText}")`, 'e.g. --last 20');
  }
  const followText = query.get(FLOW_QUERY_KEYS.follow);
  const follow = followText !== null && followText !== '0' && followText !== 'false';
  return { filter, last, follow };
}

/** The filter as query parameters (the CLI's side of parseFlowQuery). */
export function flowQueryParams(filter: FlowFilter): Record<string, string[] | undefined> {
  return {
    [FLOW_QUERY_KEYS.pod]: filter.pod,
    [FLOW_QUERY_KEYS.fromPod]: filter.fromPod,
    [FLOW_QUERY_KEYS.toPod]: filter.toPod,
    [FLOW_QUERY_KEYS.verdict]: filter.verdict,
    [FLOW_QUERY_KEYS.protocol]: filter.protocol,
  };
}

function podMatches(pod: string | undefined, refs: string[]): boolean {
  if (pod === undefined) return false;
  return refs.some((r) => (r.endsWith('/') ? pod.startsWith(r) : pod === r));
}

export function matchesFlowFilter(flow: Flow, filter: FlowFilter): boolean {
  if (filter.verdict && !filter.verdict.includes(flow.verdict)) return false;
  if (filter.protocol && !filter.protocol.includes(flow.protocol)) return false;
  if (filter.fromPod && !podMatches(flow.source.pod, filter.fromPod)) return false;
  if (filter.toPod && !podMatches(flow.destination.pod, filter.toPod)) return false;
  if (filter.pod && !podMatches(flow.source.pod, filter.pod) && !podMatches(flow.destination.pod, filter.pod)) return false;
  return true;
}

export function isVerdict(v: string): v is FlowVerdict {
  return (FLOW_VERDICTS as readonly string[]).includes(v);
}
export function isProtocol(v: string): v is FlowProtocol {
  return (FLOW_PROTOCOLS as readonly string[]).includes(v);
}
