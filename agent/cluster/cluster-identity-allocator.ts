// Cluster-wide label identities in etcd, after the model of Cilium's kvstore allocator (a master
// record per id, per-node references bound to each node's lease, a GC of unreferenced ids), but
// made race-free with etcd transactions alone, without a distributed lock:
//
// - allocate, labels already known: read `labels/<k>` (id X, mod revision r), then one txn
//   "if labels/<k>.mod == r: put refs/<k>/<node> = X under my lease". If the GC deleted the
//   identity in between, the compare fails and the loop starts over.
// - allocate, labels new: pick a free id N, then one txn "if id/N and labels/<k> do not exist:
//   put id/N, labels/<k>, refs/<k>/<node>". Two nodes racing for the same labels: one txn wins,
//   the other's compare on labels/<k> fails and its retry finds the winner's id. Two nodes racing
//   for the same N with different labels: the compare on id/N fails for one, which picks another.
// - GC: "if labels/<k>.mod == r and no key exists under refs/<k>/ (a range compare:
//   create_revision == 0 over the whole prefix): delete labels/<k> and id/N". etcd serializes it
//   against the allocate txn above, so an id is never deleted while a reference to it exists.
// - a dead node's references go with its lease; the GC then frees ids nobody else uses.
//
// Local-scope label sets (CIDR, FQDN) and reserved ones never leave the node: they go to the
// node's own IdentityAllocator, whose local range (1<<24..) cannot collide with cluster ids.
import type { IdentityAllocator } from '../../policy/index.js';
import { LabelSet } from '../../policy/index.js';
import type { ICompare, IRequestOp } from 'etcd3';
import type { ClusterSession } from './cluster-session.js';
import { delay } from './cluster-session.js';
import { ClusterError } from './errors.js';
import { decodeSegment, prefixRangeEnd } from './etcd-keys.js';
import { IDENTITY_RANGES, identityScopeForLabels, reservedIdentityById, reservedIdentityByLabels } from './identity-scope.js';
import { PrefixReflector } from './prefix-reflector.js';

export interface ClusterIdentity {
  readonly id: number;
  readonly labels: LabelSet;
}

/** One batch of the cluster-wide identity feed (what a SelectorCache.update takes). */
export interface ClusterIdentityChange {
  readonly added: readonly ClusterIdentity[];
  readonly removed: readonly ClusterIdentity[];
}

export type IdentityChangeListener = (change: ClusterIdentityChange) => void;
/** The id of labels this node holds changed (it lost its lease and the id was freed and re-minted meanwhile). */
export type IdentityReassignedListener = (labels: LabelSet, oldId: number, newId: number) => void;

export interface ClusterIdentityAllocatorOptions {
  session: ClusterSession;
  /** The node's own allocator: reserved and local-scope (CIDR/FQDN) identities stay there. */
  local: IdentityAllocator;
  /** Period of the cluster GC of unreferenced ids (default 60 s; 0 disables it, tests call collectGarbage()). */
  gcIntervalMs?: number;
}

interface Held {
  id: number;
  labels: LabelSet;
  refCount: number;
}

const MAX_ATTEMPTS = 32;
const { min: GLOBAL_MIN, max: GLOBAL_MAX } = IDENTITY_RANGES.global;

export class ClusterIdentityAllocator {
  readonly #session: ClusterSession;
  readonly #local: IdentityAllocator;
  readonly #byId = new Map<number, ClusterIdentity>();
  readonly #byLabels = new Map<string, ClusterIdentity>();
  readonly #held = new Map<string, Held>();
  // Operations on one label set are serialized on this node (allocate/release/re-register).
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #reflector: PrefixReflector;
  #listeners: IdentityChangeListener[] = [];
  #reassignedListeners: IdentityReassignedListener[] = [];
  #gcTimer: NodeJS.Timeout | undefined;
  readonly #pendingRefDeletes = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;
  #offLease: () => void = () => {};
  #closed = false;

  private constructor(o: ClusterIdentityAllocatorOptions) {
    this.#session = o.session;
    this.#local = o.local;
    const idPrefix = o.session.keys.identityIds;
    this.#reflector = new PrefixReflector({
      client: o.session.client,
      prefix: idPrefix,
      logger: o.session.logger,
      handlers: {
        onPut: (key, value, previous) => {
          const identity = this.#decode(key.slice(idPrefix.length), value.value);
          if (!identity) return;
          const removed = previous ? this.#forget(identity.id) : undefined;
          this.#byId.set(identity.id, identity);
          this.#byLabels.set(identity.labels.canonicalKey, identity);
          this.#emit({ added: [identity], removed: removed ? [removed] : [] });
        },
        onDelete: (key) => {
          const removed = this.#forget(Number(key.slice(idPrefix.length)));
          if (removed) this.#emit({ added: [], removed: [removed] });
        },
      },
    });
  }

  /** Joins the identity tree: resolves once every cluster identity is mirrored locally. */
  static async open(o: ClusterIdentityAllocatorOptions): Promise<ClusterIdentityAllocator> {
    const allocator = new ClusterIdentityAllocator(o);
    await allocator.#reflector.start();
    allocator.#offLease = o.session.onLeaseRenewed(() => allocator.#reRegister());
    const every = o.gcIntervalMs ?? 60_000;
    if (every > 0) {
      allocator.#gcTimer = setInterval(() => {
        allocator.collectGarbage().catch((err: unknown) => o.session.logger.warn({ err: String(err) }, 'cluster identity GC failed; next round retries'));
      }, every);
      allocator.#gcTimer.unref();
    }
    return allocator;
  }

  /**
   * Takes this node's reference on the identity of `labels`, minting a cluster-wide id if no
   * node has one. `isNew` is true when this node took its first reference (same meaning as the
   * local allocator's). Reserved and local-scope labels are answered by the local allocator.
   */
  async allocate(labels: LabelSet): Promise<{ id: number; isNew: boolean }> {
    if (reservedIdentityByLabels(labels) || identityScopeForLabels(labels) === 'local') return this.#local.allocate(labels);
    this.#session.assertOpen();
    if (labels.size === 0) throw new ClusterError('MESHD_ERR_CLUSTER_ALLOCATION_CONFLICT', 'cannot allocate an identity for an empty label set');
    const key = labels.canonicalKey;
    return this.#serialized(key, async () => {
      const held = this.#held.get(key);
      if (held) {
        held.refCount++;
        return { id: held.id, isNew: held.refCount === 1 };
      }
      this.#pendingRefDeletes.delete(key); // the acquire below puts the reference again
      const id = await this.#acquire(key, labels, undefined);
      this.#held.set(key, { id, labels, refCount: 1 });
      return { id, isNew: true };
    });
  }

  /** Drops one local reference; the last one removes this node's reference key in etcd. */
  async release(labels: LabelSet): Promise<{ id: number; refCount: number } | undefined> {
    if (reservedIdentityByLabels(labels) || identityScopeForLabels(labels) === 'local') return this.#local.release(labels);
    const key = labels.canonicalKey;
    return this.#serialized(key, async () => {
      const held = this.#held.get(key);
      if (!held || held.refCount === 0) return undefined;
      held.refCount--;
      if (held.refCount === 0) {
        this.#held.delete(key);
        try {
          await this.#session.client.delete().key(this.#session.keys.identityRef(key, this.#session.nodeName));
        } catch (err) {
          // etcd unreachable: the release stands locally; the reference key is deleted later.
          this.#session.logger.warn({ labels: labels.toStrings(), err: String(err) }, 'cannot drop the identity reference in etcd now; retrying in the background');
          this.#queueRefDelete(key);
        }
      }
      return { id: held.id, refCount: held.refCount };
    });
  }

  /** Synchronous after open(): the mirror of every cluster identity, plus this node's own. */
  lookupById(id: number): ClusterIdentity | undefined {
    const reserved = reservedIdentityById(id);
    if (reserved) return reserved;
    if (id >= GLOBAL_MIN && id <= GLOBAL_MAX) {
      const mirrored = this.#byId.get(id);
      if (mirrored) return mirrored;
      for (const held of this.#held.values()) if (held.id === id) return held;
      return undefined;
    }
    return this.#local.lookupById(id);
  }

  lookupByLabels(labels: LabelSet): ClusterIdentity | undefined {
    if (reservedIdentityByLabels(labels) || identityScopeForLabels(labels) === 'local') return this.#local.lookupByLabels(labels);
    return this.#held.get(labels.canonicalKey) ?? this.#byLabels.get(labels.canonicalKey);
  }

  /** This node's references on `id` (0 for ids only other nodes use). */
  refCount(id: number): number {
    if (id < GLOBAL_MIN || id > GLOBAL_MAX) return this.#local.refCount(id);
    for (const held of this.#held.values()) if (held.id === id) return held.refCount;
    return 0;
  }

  /** Every cluster-wide identity currently in etcd (as mirrored). Seed a SelectorCache with it. */
  identities(): ClusterIdentity[] {
    return [...this.#byId.values()];
  }

  /** The feed of cluster identities added/removed on any node; returns the unsubscribe function. */
  onChange(listener: IdentityChangeListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  onIdentityReassigned(listener: IdentityReassignedListener): () => void {
    this.#reassignedListeners.push(listener);
    return () => {
      this.#reassignedListeners = this.#reassignedListeners.filter((l) => l !== listener);
    };
  }

  get watchRevision(): number {
    return this.#reflector.revision;
  }

  get watchConnected(): boolean {
    return this.#reflector.connected;
  }

  /**
   * Deletes every identity no node references, returning the freed ids. Safe to run on every
   * node at once and concurrently with allocate (see the file comment).
   */
  async collectGarbage(): Promise<number[]> {
    this.#session.assertOpen();
    const keys = this.#session.keys;
    const client = this.#session.client;
    const res = await client.kv.range({ key: Buffer.from(keys.identityLabels), range_end: prefixRangeEnd(keys.identityLabels) });
    const freed: number[] = [];
    for (const kv of res.kvs) {
      const labelKey = decodeSegment(kv.key.toString('utf8').slice(keys.identityLabels.length));
      const id = Number(kv.value.toString('utf8'));
      const refPrefix = keys.identityRefPrefix(labelKey);
      const compare: ICompare[] = [
        { key: kv.key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision },
        { key: Buffer.from(refPrefix), range_end: prefixRangeEnd(refPrefix), target: 'Create', result: 'Equal', create_revision: 0 },
      ];
      const success: IRequestOp[] = [{ request_delete_range: { key: kv.key } }];
      if (Number.isInteger(id)) success.push({ request_delete_range: { key: Buffer.from(keys.identityId(id)) } });
      const txn = await client.kv.txn({ compare, success, failure: [] });
      if (txn.succeeded) freed.push(id);
    }
    return freed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#gcTimer) clearInterval(this.#gcTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#offLease();
    await this.#reflector.close();
  }

  // Finds or mints the id of `labels` and puts this node's reference, in one txn per attempt.
  // `preferredId` (re-registration after a lost lease) re-creates a freed identity with its old id.
  async #acquire(labelKey: string, labels: LabelSet, preferredId: number | undefined): Promise<number> {
    const keys = this.#session.keys;
    const client = this.#session.client;
    const labelsKey = Buffer.from(keys.identityLabelKey(labelKey));
    const refKey = Buffer.from(keys.identityRef(labelKey, this.#session.nodeName));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await delay(Math.min(50, attempt * 5) * Math.random());
      const lease = this.#session.leaseId;
      const existing = await client.kv.range({ key: labelsKey });
      const kv = existing.kvs[0];
      if (kv) {
        const id = Number(kv.value.toString('utf8'));
        const txn = await client.kv.txn({
          compare: [{ key: labelsKey, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }],
          success: [{ request_put: { key: refKey, value: Buffer.from(String(id)), lease } }],
          failure: [],
        });
        if (txn.succeeded) return id;
        continue;
      }
      const id = attempt === 0 && preferredId !== undefined ? preferredId : this.#pickFreeId();
      const idKey = Buffer.from(keys.identityId(id));
      const txn = await client.kv.txn({
        compare: [
          { key: idKey, target: 'Create', result: 'Equal', create_revision: 0 },
          { key: labelsKey, target: 'Create', result: 'Equal', create_revision: 0 },
        ],
        success: [
          { request_put: { key: idKey, value: Buffer.from(JSON.stringify(labels.toStrings())) } },
          { request_put: { key: labelsKey, value: Buffer.from(String(id)) } },
          { request_put: { key: refKey, value: Buffer.from(String(id)), lease } },
        ],
        failure: [],
      });
      if (txn.succeeded) return id;
    }
    throw new ClusterError('MESHD_ERR_CLUSTER_ALLOCATION_CONFLICT', `no identity for ${labels.toStrings().join(',')} after ${MAX_ATTEMPTS} concurrent conflicts`, {
      hint: 'retry; persistent conflicts mean many nodes allocate at once or the id range is nearly full',
    });
  }

  // A random start spreads concurrent minters over the range (fewer collisions than "lowest free").
  #pickFreeId(): number {
    const size = GLOBAL_MAX - GLOBAL_MIN + 1;
    const start = Math.floor(Math.random() * size);
    for (let i = 0; i < size; i++) {
      const id = GLOBAL_MIN + ((start + i) % size);
      if (!this.#byId.has(id)) return id;
    }
    throw new ClusterError('MESHD_ERR_CLUSTER_IDENTITY_EXHAUSTED', `all ${size} cluster identities are in use`, {
      hint: 'ids of label sets no node uses are freed by the cluster GC (collectGarbage)',
    });
  }

  // Puts every reference this node holds back under the new lease, keeping ids where possible.
  async #reRegister(): Promise<void> {
    this.#pendingRefDeletes.clear(); // the old lease took those references with it
    for (const [key, held] of [...this.#held]) {
      await this.#serialized(key, async () => {
        if (this.#held.get(key) !== held) return;
        const id = await this.#acquire(key, held.labels, held.id);
        if (id === held.id) return;
        const oldId = held.id;
        held.id = id;
        this.#session.logger.warn({ labels: held.labels.toStrings(), oldId, newId: id }, 'identity re-minted with a new id after the node lease was lost');
        for (const l of this.#reassignedListeners) l(held.labels, oldId, id);
      });
    }
  }

  // Reference deletes that failed (etcd away) are retried every 2 s until they succeed, unless the
  // labels were allocated again meanwhile. Should the lease expire first, etcd drops them anyway.
  #queueRefDelete(key: string): void {
    this.#pendingRefDeletes.add(key);
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retryRefDeletes();
    }, 2000);
    this.#retryTimer.unref();
  }

  async #retryRefDeletes(): Promise<void> {
    for (const key of [...this.#pendingRefDeletes]) {
      await this.#serialized(key, async () => {
        if (!this.#pendingRefDeletes.has(key) || this.#held.has(key)) return;
        try {
          await this.#session.client.delete().key(this.#session.keys.identityRef(key, this.#session.nodeName));
          this.#pendingRefDeletes.delete(key);
        } catch {
          // still away
        }
      });
    }
    if (this.#pendingRefDeletes.size > 0) {
      const keys = [...this.#pendingRefDeletes];
      this.#pendingRefDeletes.clear();
      for (const key of keys) this.#queueRefDelete(key);
    }
  }

  #serialized<T>(key: string, op: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous.then(op, op);
    const tail = next.catch(() => undefined);
    this.#chains.set(key, tail);
    void tail.then(() => {
      if (this.#chains.get(key) === tail) this.#chains.delete(key);
    });
    return next;
  }

  #decode(idText: string, value: string): ClusterIdentity | undefined {
    try {
      const id = Number(idText);
      const texts: unknown = JSON.parse(value);
      if (!Number.isInteger(id) || id < GLOBAL_MIN || id > GLOBAL_MAX) throw new Error(`id ${idText} outside ${GLOBAL_MIN}..${GLOBAL_MAX}`);
      if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) throw new Error('labels are not a string array');
      return { id, labels: LabelSet.parse(texts as string[]) };
    } catch (err) {
      this.#session.logger.warn({ code: 'MESHD_ERR_CLUSTER_BAD_RECORD', key: idText, err: String(err) }, 'ignoring an undecodable identity record');
      return undefined;
    }
  }

  #forget(id: number): ClusterIdentity | undefined {
    const identity = this.#byId.get(id);
    if (!identity) return undefined;
    this.#byId.delete(id);
    if (this.#byLabels.get(identity.labels.canonicalKey) === identity) this.#byLabels.delete(identity.labels.canonicalKey);
    return identity;
  }

  #emit(change: ClusterIdentityChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#session.logger.error({ err: String(err) }, 'identity change listener failed');
      }
    }
  }
}
