// Public entry of agent/xds-publish: the agent's xDS server and the node's snapshots, and the
// proxy port plan the kernel and xDS share.
export { XdsPublisher, XDS_SOCKET, XDS_STATE_FILE } from './xds-publisher.js';
export type {
  XdsNodePlan,
  XdsPublisherOptions,
  XdsPublishInput,
  XdsPublishOutcome,
  XdsNackEvent,
  XdsProxyStatus,
  XdsPublisherStatus,
  XdsPublisherStats,
  XdsTypeStatus,
} from './xds-publisher.js';
export { proxyPortPlan, PROXY_PORT_OFFSETS } from './proxy-ports.js';
export type { ProxyPortPlan } from './proxy-ports.js';
