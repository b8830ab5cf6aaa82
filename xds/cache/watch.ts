// The one interface between the cache (*what* to send) and the server (*how* the protocol delivers
// it), after go-control-plane's ConfigWatcher: createWatch(request, subscription, respond) → cancel.
// The server owns the subscription; the cache only reads it.
import type { XdsNode } from './type-rules.js';
import type { XdsResource } from './resource.js';

/** The server's view of one stream's subscription to one type (shared by SotW and Delta). */
export interface SubscriptionView {
  /** Subscribed to every resource of the type ("*", or the legacy empty first request). */
  readonly isWildcard: boolean;
  /** Names subscribed explicitly. */
  readonly names: ReadonlySet<string>;
  /** name → version the client holds, as far as the server knows (sent, or claimed on a Delta reconnect). */
  readonly returned: ReadonlyMap<string, string>;
  /** Delta: names (re)subscribed since the last response, answered even when unchanged or absent. */
  readonly mustAnswer: ReadonlySet<string>;
  /** Whether any response for the type went out on this stream. */
  readonly hasResponded: boolean;
}

export interface WatchRequest {
  node: XdsNode;
  typeUrl: string;
  variant: 'sotw' | 'delta';
  /** SotW: the request's version_info (the last version the client accepted, perhaps on an earlier stream). */
  versionInfo: string;
}

export interface WatchResponse {
  typeUrl: string;
  /** SotW version_info: the type's content version in the node's snapshot. */
  versionInfo: string;
  /** Delta system_version_info: the snapshot's version if it has one, else versionInfo. */
  systemVersionInfo: string;
  /** Resources to send (SotW full-state types: every subscribed resource). */
  resources: XdsResource[];
  /** Names the client holds that are no longer there (Delta: removed_resources; SotW: bookkeeping only). */
  removed: string[];
  /** Whether the response replaces the client's whole set (LDS/CDS in SotW). */
  isFullState: boolean;
}

export type Respond = (response: WatchResponse) => void;
export type CancelWatch = () => void;
