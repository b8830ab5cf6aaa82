// Public entry of the xDS snapshot cache: *what* each node should have. The server (xds/server/) talks
// to it only through createWatch / createDeltaWatch.
export { Snapshot } from './snapshot.js';
export { findConsistencyProblems } from './consistency.js';
export type { ConsistencyInput } from './consistency.js';
export type { SnapshotInit, SnapshotMessages, ExtraMessage } from './snapshot.js';
export { SnapshotCache, DEFAULT_NODE_ID } from './snapshot-cache.js';
export type { CacheCallbacks } from './snapshot-cache.js';
export { makeResource } from './resource.js';
export type { XdsResource } from './resource.js';
export type { XdsNode } from './type-rules.js';
export type { SubscriptionView, WatchRequest, WatchResponse, Respond, CancelWatch } from './watch.js';
export type { NodeStatus, TypeStatus, NackStatus } from './status.js';
export { NOOP_LOGGER } from './logger.js';
export type { XdsLogger } from './logger.js';
export { XdsSnapshotError, XdsServerError, XDS_SERVER_ERROR_CODES } from './errors.js';
export type { XdsServerErrorCode } from './errors.js';
