// Flow records of the built-in proxy, published on node:diagnostics_channel (`meshd:flow`) so the
// agent's observer can subscribe without proxylib importing agent (DESIGN.md's layering).

export const FLOW_CHANNEL = 'meshd:flow';

export type FlowVerdict = 'FORWARDED' | 'DENIED' | 'ERROR';

export interface FlowPeer {
  ip: string;
  port: number;
  /** Security identity from the ipcache, when the proxy has an identity resolver. */
  identity?: number | undefined;
}

interface FlowBase {
  /** ISO 8601, when the request (or connection) started. */
  time: string;
  /** Source: the downstream peer. Destination: the original destination (after original_dst). */
  source: FlowPeer;
  destination: FlowPeer;
  listener: string;
  filterChain: string;
  verdict: FlowVerdict;
  /** The policy (RBAC policy name) that decided; for meshd's translation, the rule's origin. */
  policy?: string | undefined;
  /** Why, for DENIED / ERROR: rbac_denied, no_route, bad_request, upstream_connect_failed, ... */
  reason?: string | undefined;
  latencyMs: number;
}

export interface HttpFlowRecord extends FlowBase {
  type: 'http';
  protocol: 'http' | 'grpc';
  http: {
    version: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
    method: string;
    /** The normalized path that was matched and forwarded. */
    path: string;
    host: string;
    /** Status sent downstream (0 when the stream was reset before a response). */
    status: number;
    grpcStatus?: number | undefined;
  };
  upstream?: { cluster: string; address: string; port: number } | undefined;
}

export interface TcpFlowRecord extends FlowBase {
  type: 'tcp';
  upstream?: { cluster: string; address: string; port: number } | undefined;
  bytesSent: number;
  bytesReceived: number;
}

/** One Kafka request on a connection the Kafka filter runs (proxylib/kafka). */
export interface KafkaFlowRecord extends FlowBase {
  type: 'kafka';
  kafka: {
    apiKey: number;
    /** Kafka's name of the API (`Produce`, `OffsetCommit`...), or `unknown(<key>)`. */
    apiName: string;
    apiVersion: number;
    correlationId: number;
    clientId: string | null;
    /** Topic names of the request (topic ids resolved to names where the proxy knows them). */
    topics: string[];
    /** Consumer group ids of the request. */
    groups: string[];
    /**
     * What the denial stands for: 29 a topic, 30 a group, 31 the cluster, 100 a topic id the proxy
     * cannot name. The response itself carries the API's own code where it has a finer one (53 for
     * transactional APIs, 31 for ListGroups and the ACL APIs); docs/kafka.md lists them.
     */
    errorCode?: number | undefined;
  };
  /** ERROR records: the decoder's (or the upstream framer's) message, e.g. for kafka_malformed_request. */
  detail?: string | undefined;
  upstream?: { cluster: string; address: string; port: number } | undefined;
}

/** One DNS query the DNS proxy (proxylib/dns) handled, over UDP or TCP. */
export interface DnsFlowRecord extends FlowBase {
  type: 'dns';
  /** The transport the client used. */
  protocol: 'udp' | 'tcp';
  dns: {
    /** The client's query id. */
    id: number;
    /** Question[0]'s name, lower-case, no trailing dot ('' when the query was unreadable). */
    query: string;
    /** Question[0]'s type ('A', 'AAAA', 'TYPE65'...; '' when unreadable). */
    qtype: string;
    /** RCODE of the answer the client got ('NOERROR', 'REFUSED', 'SERVFAIL'...; '' when none was sent). */
    rcode: string;
    /** A and AAAA addresses of the answer (allowed queries). */
    ips: string[];
    /** The answer carried TC (the client retries over TCP). */
    truncated: boolean;
    /** The answer observer (the learning side): how long the answer was held, and how the hold ended. */
    observer?: { heldMs: number; outcome: 'done' | 'timeout' | 'error' } | undefined;
  };
  upstream?: { cluster: string; address: string; port: number } | undefined;
}

export type FlowRecord = HttpFlowRecord | TcpFlowRecord | KafkaFlowRecord | DnsFlowRecord;
