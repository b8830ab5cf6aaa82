// The kernel datapath as the agent sees it: the Datapath class, the policy translation, the
// events, and the numbers shared with bpf/lib/*.h.
export { Datapath } from './datapath.js';
export type { DatapathOptions, EndpointAttachment, OriginalDestination, PolicyUpdateResult, SocketAddress } from './datapath.js';
export type { IpcacheTable } from './ipcache-table.js';
export { PinnedDatapathView } from './pinned-view.js';
export type { PinnedDatapathViewOptions, IpcacheReader } from './pinned-view.js';
export type { ProxyConnectionTuple } from './original-destination.js';
export { readPinnedUdpPeers } from './udp-peers.js';
export type { UdpPeerEntry } from './udp-peers.js';
export { translateEndpointPolicy, decideFromEntries } from './policy-entries.js';
export type { PolicyMapContent, PolicyMapEntry, PolicyTranslationOptions, SkippedPolicyEntry } from './policy-entries.js';
export type { DatapathEvent, EventStream } from './events.js';
export { DROP_REASONS, DROP_REASON_DESCRIPTIONS, dropReasonName } from './drop-reasons.js';
export type { DropReasonCode, DropReasonName } from './drop-reasons.js';
export { DATAPATH_ERROR_CODES, DatapathError } from './errors.js';
export type { DatapathErrorCode } from './errors.js';
export { DIRECTION, VERDICT, HOOK, MAP_NAMES, TPROXY_MARK, TPROXY_MARK_MASK } from './constants.js';
export { setupTproxyRouting, teardownTproxyRouting, tproxyRoutingInstalled, DEFAULT_TPROXY_TABLE, DEFAULT_TPROXY_RULE_PRIORITY } from './tproxy-routing.js';
export type { TproxyRoutingOptions } from './tproxy-routing.js';
export type { DirectionName, VerdictName, HookName } from './constants.js';
export type { PolicyKey, PolicyValue } from './codecs.js';
