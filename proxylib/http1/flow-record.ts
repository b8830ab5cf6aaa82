// The flow record of one HTTP/1.1 exchange (built only when someone subscribes to `meshd:flow`).
import type { Http1RequestHead } from '../codec/index.js';
import type { FlowVerdict, HttpFlowRecord } from '../flow/index.js';
import type { RequestDecision } from '../hcm/index.js';
import type { DownstreamConnection } from '../listener/index.js';
import type { UpstreamTarget } from '../upstream/index.js';

export interface ExchangeOutcome {
  /** Date.now() / performance.now() at the start, or -1 when no subscriber was there then. */
  startedAtWallMs: number;
  startedAtMs: number;
  head: Http1RequestHead;
  decision: RequestDecision | undefined;
  verdict: FlowVerdict;
  reason: string | undefined;
  status: number;
  grpcStatus: number | undefined;
  target: UpstreamTarget | undefined;
}

export function httpFlowRecord(conn: DownstreamConnection, o: ExchangeOutcome): HttpFlowRecord {
  const facts = conn.facts;
  const decision = o.decision;
  const target = o.target;
  return {
    type: 'http',
    time: isoTimeOf(o.startedAtWallMs >= 0 ? o.startedAtWallMs : Date.now()),
    source: { ip: facts.sourceIp, port: facts.sourcePort, identity: conn.sourceIdentity },
    destination: { ip: facts.destinationIp, port: facts.destinationPort, identity: conn.destinationIdentity },
    listener: conn.listenerName,
    filterChain: conn.filterChainName,
    verdict: o.verdict,
    policy: decision?.policy,
    reason: o.reason,
    latencyMs: o.startedAtMs >= 0 ? performance.now() - o.startedAtMs : 0,
    protocol: decision?.isGrpc ? 'grpc' : 'http',
    http: {
      version: o.head.version,
      method: o.head.method,
      path: decision?.matchedPath ?? o.head.target,
      host: o.head.authority,
      status: o.status,
      grpcStatus: o.grpcStatus,
    },
    upstream: target !== undefined ? { cluster: target.cluster.name, address: target.address, port: target.port } : undefined,
  };
}

// Formatting a date costs about a microsecond; requests in the same millisecond share the string.
let isoCacheMs = -1;
let isoCache = '';
function isoTimeOf(ms: number): string {
  if (ms !== isoCacheMs) {
    isoCacheMs = ms;
    isoCache = new Date(ms).toISOString();
  }
  return isoCache;
}
