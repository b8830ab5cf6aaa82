// What every stream handler shares with the server that owns it.
import type { SnapshotCache, XdsLogger } from '../cache/index.js';
import type { XdsServerCallbacks, XdsServerMetrics } from './callbacks.js';

export interface ServerContext {
  cache: SnapshotCache;
  logger: XdsLogger;
  callbacks: XdsServerCallbacks;
  metrics: XdsServerMetrics;
  maxResponseBytes: number;
  orderHoldMs: number;
  nextStreamId(): number;
  /** Open streams, so close() can end them. */
  streams: Set<{ end(): void }>;
}
