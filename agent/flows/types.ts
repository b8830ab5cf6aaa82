// The flow record the agent keeps, serves (`GET /v1/flows`) and `meshd observe` prints: one shape
// for kernel verdict events and the proxy's L7 records, so filters and output treat both alike.
// Stable contract: fields are only ever added.

export type FlowVerdict = 'FORWARDED' | 'DROPPED' | 'DENIED' | 'AUDIT' | 'REDIRECTED' | 'ERROR';
export const FLOW_VERDICTS: readonly FlowVerdict[] = ['FORWARDED', 'DROPPED', 'DENIED', 'AUDIT', 'REDIRECTED', 'ERROR'];

/** `icmp`/`other` only for kernel events of other IP protocols (the skb hook sees them). */
export type FlowProtocol = 'tcp' | 'udp' | 'http' | 'grpc' | 'kafka' | 'dns' | 'icmp' | 'other';
export const FLOW_PROTOCOLS: readonly FlowProtocol[] = ['tcp', 'udp', 'http', 'grpc', 'kafka', 'dns', 'icmp', 'other'];

export interface FlowEndpointRef {
  ip: string;
  port: number;
  identity?: number;
  /** `namespace/name` when the address belongs to a pod of this node. */
  pod?: string;
  /** The identity's labels, `source:key=value`. */
  labels?: string[];
}

export interface Flow {
  /** Increasing per agent run: `follow` and clients use it to order and de-duplicate. */
  id: number;
  /** ISO 8601. */
  time: string;
  layer: 'kernel' | 'proxy';
  verdict: FlowVerdict;
  protocol: FlowProtocol;
  direction?: 'ingress' | 'egress';
  source: FlowEndpointRef;
  destination: FlowEndpointRef;
  /** The policy that decided (`namespace/name`, `default-deny`, ...), when one did. */
  policy?: string;
  /** Why, for DROPPED/DENIED/ERROR: the kernel's drop reason or the proxy's reason. */
  reason?: string;
  /** One line in the spirit of hubble: `GET /v1/exhaust-port -> 403`. */
  summary: string;
  /** The proxy record's protocol details (http, kafka or dns object), as the proxy sent them. */
  l7?: unknown;
  /** Proxy flows: time from request start to the response (or the decision). */
  latencyMs?: number;
}

export type NewFlow = Omit<Flow, 'id'>;

/** Which flows a query or a follower wants; every given field must match. */
export interface FlowFilter {
  /** `ns/name` (or `ns/` for a whole namespace) on either side. */
  pod?: string[];
  fromPod?: string[];
  toPod?: string[];
  verdict?: FlowVerdict[];
  protocol?: FlowProtocol[];
}
