// Per-node snapshots (go-control-plane's SnapshotCache): the server opens watches; setSnapshot replaces
// a node's snapshot and wakes only the watches of the types whose resources changed.
import { NOOP_LOGGER, type XdsLogger } from './logger.js';
import { XdsSnapshotError } from './errors.js';
import { NodeStatusBook, type NodeStatus } from './status.js';
import { computeDeltaResponse, computeSotwResponse } from './compute-response.js';
import type { Snapshot } from './snapshot.js';
import type { CancelWatch, Respond, SubscriptionView, WatchRequest, WatchResponse } from './watch.js';

/** Serves every node that has no snapshot of its own. */
export const DEFAULT_NODE_ID = '*';

export interface CacheCallbacks {
  onSnapshot(nodeId: string, snapshot: Snapshot, changedTypeUrls: string[]): void;
  onSnapshotRejected(nodeId: string, problems: string[]): void;
}

interface Watch {
  req: WatchRequest;
  sub: SubscriptionView;
  respond: Respond;
}

export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly watches = new Map<string, Set<Watch>>();
  private readonly book = new NodeStatusBook();
  private readonly logger: XdsLogger;
  private readonly callbacks: Partial<CacheCallbacks>;

  constructor(opts: { logger?: XdsLogger; callbacks?: Partial<CacheCallbacks> } = {}) {
    this.logger = opts.logger ?? NOOP_LOGGER;
    this.callbacks = opts.callbacks ?? {};
  }

  /**
   * Throws XdsSnapshotError (MESHD_ERR_XDS_INCONSISTENT_SNAPSHOT) listing the problems; the previous
   * snapshot for the node stays. Wakes only the watches whose resources changed. nodeId '*' is the
   * default for every node without its own snapshot.
   */
  setSnapshot(nodeId: string, snapshot: Snapshot): void {
    const problems = snapshot.consistencyProblems();
    if (problems.length > 0) {
      this.logger.warn({ node: nodeId, version: snapshot.version, problems }, 'xds: snapshot refused as inconsistent');
      this.callbacks.onSnapshotRejected?.(nodeId, problems);
      throw new XdsSnapshotError('MESHD_ERR_XDS_INCONSISTENT_SNAPSHOT', problems, `snapshot for node "${nodeId}"`);
    }
    const changedPerNode = this.nodesServedBy(nodeId).map((id) => [id, changedTypes(this.snapshotFor(id), snapshot)] as const);
    this.snapshots.set(nodeId, snapshot);
    const changed = new Set<string>();
    for (const [, types] of changedPerNode) for (const t of types) changed.add(t);
    this.logger.info({ node: nodeId, version: snapshot.version, changedTypes: [...changed] }, 'xds: snapshot set');
    this.callbacks.onSnapshot?.(nodeId, snapshot, [...changed]);
    for (const [id, types] of changedPerNode) this.wake(id, types);
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId);
  }

  /** Drops the node's own snapshot; it falls back to the '*' default (if any), and its watches see the difference. */
  clearSnapshot(nodeId: string): void {
    const old = this.snapshots.get(nodeId);
    if (!old) return;
    const affected = this.nodesServedBy(nodeId);
    const before = new Map(affected.map((id) => [id, this.snapshotFor(id)] as const));
    this.snapshots.delete(nodeId);
    for (const id of affected) {
      const now = this.snapshotFor(id);
      if (now) this.wake(id, changedTypes(before.get(id), now));
    }
  }

  /** SotW watch: `respond` is called at most once (maybe synchronously); the watch then ends. */
  createWatch(req: WatchRequest, sub: SubscriptionView, respond: Respond): CancelWatch {
    return this.open({ req: { ...req, variant: 'sotw' }, sub, respond });
  }

  /** Delta watch: same contract as createWatch. */
  createDeltaWatch(req: WatchRequest, sub: SubscriptionView, respond: Respond): CancelWatch {
    return this.open({ req: { ...req, variant: 'delta' }, sub, respond });
  }

  /** Called by the server for every request it takes from a node. */
  recordRequest(nodeId: string): void {
    this.book.recordRequest(nodeId, new Date());
  }
  recordSent(nodeId: string, typeUrl: string, version: string): void {
    this.book.recordSent(nodeId, typeUrl, version);
  }
  recordAck(nodeId: string, typeUrl: string, version: string): void {
    this.book.recordAck(nodeId, typeUrl, version, new Date());
  }
  recordNack(nodeId: string, typeUrl: string, version: string, message: string): void {
    this.book.recordNack(nodeId, typeUrl, { version, message, at: new Date() });
  }

  /** Per node: last request time, snapshot version, per type: sent and acked version, last NACK. */
  status(): NodeStatus[] {
    const ids = new Set([...this.book.nodeIds(), ...this.snapshots.keys(), ...this.watches.keys()]);
    return [...ids].sort().map((nodeId) => {
      const s = this.snapshotFor(nodeId);
      const { lastRequestAt, types } = this.book.snapshotOf(nodeId);
      return {
        nodeId,
        ...(lastRequestAt ? { lastRequestAt } : {}),
        ...(s?.version !== undefined ? { snapshotVersion: s.version } : {}),
        hasOwnSnapshot: this.snapshots.has(nodeId),
        openWatches: this.watches.get(nodeId)?.size ?? 0,
        types,
      };
    });
  }

  private snapshotFor(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId) ?? this.snapshots.get(DEFAULT_NODE_ID);
  }

  /** Nodes with watches whose snapshot is `nodeId`'s: itself, or for '*' every node without its own. */
  private nodesServedBy(nodeId: string): string[] {
    if (nodeId !== DEFAULT_NODE_ID) return [nodeId];
    return [...this.watches.keys()].filter((id) => id === DEFAULT_NODE_ID || !this.snapshots.has(id));
  }

  private open(watch: Watch): CancelWatch {
    if (this.answer(watch)) return () => {};
    const id = watch.req.node.id;
    let set = this.watches.get(id);
    if (!set) this.watches.set(id, (set = new Set()));
    set.add(watch);
    return () => this.remove(id, watch);
  }

  private remove(nodeId: string, watch: Watch): void {
    const set = this.watches.get(nodeId);
    if (!set) return;
    set.delete(watch);
    if (set.size === 0) this.watches.delete(nodeId);
  }

  /** Answers the watch if the node's snapshot has something for it; returns whether it did. */
  private answer(watch: Watch): boolean {
    const snapshot = this.snapshotFor(watch.req.node.id);
    if (!snapshot) return false;
    const compute = watch.req.variant === 'sotw' ? computeSotwResponse : computeDeltaResponse;
    const response: WatchResponse | undefined = compute(snapshot, watch.req, watch.sub);
    if (!response) return false;
    watch.respond(response);
    return true;
  }

  private wake(nodeId: string, typeUrls: ReadonlySet<string>): void {
    const set = this.watches.get(nodeId);
    if (!set || typeUrls.size === 0) return;
    for (const watch of [...set]) {
      if (!typeUrls.has(watch.req.typeUrl) && !typeUrls.has('*')) continue;
      // Removed before answering: respond may open the next watch synchronously.
      set.delete(watch);
      if (!this.answer(watch)) set.add(watch);
    }
    if (set.size === 0) this.watches.delete(nodeId);
  }
}

/** Types whose resources differ between two snapshots (by per-type content version). */
function changedTypes(before: Snapshot | undefined, after: Snapshot): Set<string> {
  const types = new Set([...after.typeUrls(), ...(before?.typeUrls() ?? [])]);
  const out = new Set<string>();
  for (const t of types) {
    if (!before || before.typeVersion(t) !== after.typeVersion(t)) out.add(t);
  }
  // A node seeing its first snapshot: every watch may be waiting, including for types the snapshot lacks.
  if (!before) out.add('*');
  return out;
}
