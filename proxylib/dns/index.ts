// Public entry of proxylib/dns, the built-in proxy's DNS proxy data plane (issue 7): the compiler of
// meshd.filters.dns.v1.DnsPolicy, the decision, the wire helpers over dns-packet, the UDP listener
// filter and the TCP network filter, and the answer hook the learning side implements
// (DnsAnswerObserver, passed to BuiltinProxy.start). Importing this module registers the filter.
import './register.js';

export type { DnsAnswerEvent, DnsAnswerObserver, DnsDataPlaneOptions } from './types.js';
export { DEFAULT_DNS_RESPONSE_MAX_DELAY_MS } from './types.js';
export type { DnsFlowRecord } from '../flow/index.js';
export { DNS_POLICY_TYPE, DEFAULT_DNS_UPSTREAM_TIMEOUT_MS, compileDnsPolicyConfig } from './compile-policy.js';
export type { DnsPolicyConfig, DnsPeerMatch, DnsPeerRuleConfig } from './compile-policy.js';
export { decideQuery, type DnsQueryDecision } from './decide.js';
export { parseQuery, parseAnswer, readName, readHeader, buildReply, withId, DnsWireError, PROXY_EDNS_UDP_SIZE } from './wire.js';
export type { DnsHeader, QueryFacts, ParsedQuery, AnswerFacts } from './wire.js';
export { DnsUdpFilter, compileDnsUdpFilter } from './udp-filter.js';
export { DnsTcpFilter, compileDnsTcpFilter } from './tcp-filter.js';
export { DnsFrameSplitter, MAX_QUERIES_IN_FLIGHT, DNS_TCP_IDLE_TIMEOUT_MS } from './tcp-connection.js';
