// The agent side of the proxy link: POST /v1/fqdn/answers (answer once the FQDN learning has
// allowed the IPs: the proxy holds the DNS answer until then) and POST /v1/flows/proxy.
import type { DnsAnswerEvent, DnsAnswerObserver, FlowRecord } from '../../proxylib/index.js';
import type { ApiRoute } from '../api/index.js';
import { ProxyLinkError } from './errors.js';
import { ANSWERS_PATH, PROXY_FLOWS_PATH } from './post-json.js';

/** More records than the proxy ever sends in one batch (256): a bound on what one request costs. */
export const MAX_RECORDS_PER_BATCH = 4096;

export interface ProxyLinkDeps {
  fqdn: DnsAnswerObserver;
  ingestProxyFlows(records: FlowRecord[]): unknown;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);

function bad(what: string): never {
  throw new ProxyLinkError('MESHD_ERR_PROXY_LINK_INVALID_BODY', what, 'the proxy and the agent must be the same meshd version');
}

/** Checks the shape and keeps only the contract's fields (a newer proxy may send more). */
export function readDnsAnswer(body: unknown): DnsAnswerEvent {
  const b = body as Partial<Record<keyof DnsAnswerEvent, unknown>> | null;
  if (typeof b !== 'object' || b === null) bad('the DNS answer is not a JSON object');
  if (!isString(b.endpoint) || !isString(b.sourceIp) || !isString(b.queryName) || !isString(b.rcode)) bad('the DNS answer lacks endpoint, sourceIp, queryName or rcode');
  if (!isStringArray(b.endpointIps) || !isStringArray(b.names)) bad('the DNS answer lacks endpointIps or names');
  if (!Array.isArray(b.addresses)) bad('the DNS answer lacks addresses');
  const addresses = b.addresses.map((a: unknown) => {
    const x = a as { ip?: unknown; ttl?: unknown; name?: unknown } | null;
    if (typeof x !== 'object' || x === null || !isString(x.ip) || typeof x.ttl !== 'number' || !Number.isFinite(x.ttl) || !isString(x.name)) bad('a DNS answer address is not {ip, ttl, name}');
    return { ip: x.ip, ttl: x.ttl, name: x.name };
  });
  return { endpoint: b.endpoint, endpointIps: b.endpointIps, sourceIp: b.sourceIp, queryName: b.queryName, names: b.names, addresses, rcode: b.rcode };
}

const RECORD_TYPES = new Set(['http', 'tcp', 'kafka', 'dns']);

export function readFlowBatch(body: unknown): FlowRecord[] {
  const records = (body as { records?: unknown } | null)?.records;
  if (!Array.isArray(records)) bad('the flow batch is not {records: [...]}');
  if (records.length > MAX_RECORDS_PER_BATCH) bad(`the flow batch has ${records.length} records, more than ${MAX_RECORDS_PER_BATCH}`);
  for (const r of records as unknown[]) {
    const x = r as { type?: unknown; source?: { ip?: unknown }; destination?: { ip?: unknown }; verdict?: unknown; time?: unknown } | null;
    if (typeof x !== 'object' || x === null || !RECORD_TYPES.has(x.type as string) || !isString(x.time) || !isString(x.verdict) || !isString(x.source?.ip) || !isString(x.destination?.ip)) {
      bad('a flow record lacks type, time, verdict, source or destination');
    }
  }
  return records as FlowRecord[];
}

export function proxyLinkRoutes(deps: ProxyLinkDeps): ApiRoute[] {
  return [
    {
      method: 'POST',
      path: ANSWERS_PATH,
      handler: async (req) => {
        await deps.fqdn.onAnswer(readDnsAnswer(req.body));
        return { learned: true };
      },
    },
    {
      method: 'POST',
      path: PROXY_FLOWS_PATH,
      handler: (req) => {
        const records = readFlowBatch(req.body);
        deps.ingestProxyFlows(records);
        return Promise.resolve({ accepted: records.length });
      },
    },
  ];
}
