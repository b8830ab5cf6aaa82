// Public entry of agent/proxy-link: how a `meshd proxy` running apart from the agent sends it DNS
// answers (held until learned) and flow records, and the agent's routes that take them.
export { RemoteDnsAnswerObserver, DEFAULT_ANSWER_QUEUE } from './remote-dns-observer.js';
export type { RemoteDnsAnswerObserverOptions, RemoteDnsAnswerObserverStats } from './remote-dns-observer.js';
export { FlowPusher } from './flow-pusher.js';
export type { FlowPusherOptions, FlowPusherStats, ProxyFlowBatch } from './flow-pusher.js';
export { proxyLinkRoutes, readDnsAnswer, readFlowBatch, MAX_RECORDS_PER_BATCH } from './agent-routes.js';
export type { ProxyLinkDeps } from './agent-routes.js';
export { ANSWERS_PATH, PROXY_FLOWS_PATH } from './post-json.js';
export { PROXY_LINK_ERROR_CODES, ProxyLinkError } from './errors.js';
export type { ProxyLinkErrorCode } from './errors.js';
