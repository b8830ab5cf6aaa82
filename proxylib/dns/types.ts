// The DNS proxy's answer hook: what the learning side (FQDN cache, identities, ipcache, policy
// updates) implements and hands to BuiltinProxy.start. The proxy calls it for every allowed answer
// that carries A or AAAA records and holds the answer until it resolves, at most
// `dnsResponseMaxDelayMs` (Cilium's tofqdns-proxy-response-max-delay, 100 ms): the kernel must allow
// the answer's IPs before the application can connect to them.
//
// Stable contract: fields are only ever added.

/** One allowed answer with addresses, as the learning side needs it. */
export interface DnsAnswerEvent {
  /** `namespace/name` of the endpoint whose policy allowed the query (DnsPolicy.endpoint). */
  endpoint: string;
  /** The endpoint's addresses (DnsPolicy.endpoint_ips). */
  endpointIps: string[];
  /** The client's address (the pod). */
  sourceIp: string;
  /** Question[0]'s name, lower-case, no trailing dot. */
  queryName: string;
  /** The query name and every CNAME target of the answer chain, lower-case, no trailing dot, in chain order. */
  names: string[];
  /** Every A/AAAA record of the answer section that belongs to the chain. */
  addresses: Array<{ ip: string; ttl: number; /** the owner name of the A/AAAA, lower-case, no trailing dot */ name: string }>;
  /** The answer's RCODE ('NOERROR' in practice: only answers with addresses are reported). */
  rcode: string;
}

export interface DnsAnswerObserver {
  /** Resolve when the IPs are allowed by the kernel; the answer is released then (or at the max delay). */
  onAnswer(a: DnsAnswerEvent): Promise<void> | void;
}

/** The data plane's DNS settings (BuiltinProxy.start options of the same names). */
export interface DnsDataPlaneOptions {
  dnsAnswerObserver?: DnsAnswerObserver | undefined;
  /** Longest an answer is held for the observer (default 100 ms, Cilium's tofqdns-proxy-response-max-delay). */
  dnsResponseMaxDelayMs?: number | undefined;
}

export const DEFAULT_DNS_RESPONSE_MAX_DELAY_MS = 100;
