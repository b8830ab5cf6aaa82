// The listener layer: binds listeners, selects filter chains, terminates TLS, runs network filters
// (RBAC, tcp_proxy) and hands HTTP connections to the HTTP/1.1 or HTTP/2 handler.
export type {
  BoundListener,
  CoarseClock,
  CoarseTimer,
  DownstreamConnection,
  ListenerManagerDeps,
  MeshdDataPlaneContext,
  MeshdFilterConnection,
  MeshdTerminalFilter,
  OriginalDestinationResolver,
  ProxyLogger,
  SocketEndpoint,
} from './types.js';
export { coarseClock, createCoarseClock } from './coarse-clock.js';
export { ListenerManager, type BindFailure } from './listener-manager.js';
export { detectH2Preface } from './peek.js';
export type { UdpDatagramFacts, UdpFilterEnvironment, UdpListenerFilter, UdpListenerFilterConfig } from './udp-types.js';
