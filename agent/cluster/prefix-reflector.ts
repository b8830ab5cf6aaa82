// A local mirror of every key under one etcd prefix: an initial list at revision R, then a watch
// from R+1. etcd3's watch manager resumes from the last revision it saw after a disconnect, so a
// short outage loses no event. If etcd has compacted that revision meanwhile, the watch is
// cancelled; the mirror then lists again and emits the difference (a full resync), so callers
// always converge on etcd's state. While etcd is unreachable the mirror keeps its last content.
import type { Etcd3, Watcher, IKeyValue } from 'etcd3';
import type { ClusterLogger } from './cluster-session.js';
import { delay } from './cluster-session.js';
import { prefixRangeEnd } from './etcd-keys.js';

export interface MirroredValue {
  readonly value: string;
  readonly modRevision: number;
  readonly lease: string;
}

export interface ReflectorHandlers {
  /** A key appeared or changed; `previous` is the mirrored value before, if any. */
  onPut(key: string, value: MirroredValue, previous: MirroredValue | undefined): void;
  onDelete(key: string, previous: MirroredValue): void;
}

export class PrefixReflector {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #handlers: ReflectorHandlers;
  readonly #logger: ClusterLogger;
  readonly #entries = new Map<string, MirroredValue>();
  #watcher: Watcher | undefined;
  #revision = 0;
  #closed = false;
  #connected = false;
  #resyncs = 0;
  #resyncing: Promise<void> | undefined;
  #verifyTimer: NodeJS.Timeout | undefined;
  readonly #verifyIntervalMs: number;
  #repairs = 0;

  constructor(o: { client: Etcd3; prefix: string; handlers: ReflectorHandlers; logger: ClusterLogger; verifyIntervalMs?: number }) {
    this.#client = o.client;
    this.#prefix = o.prefix;
    this.#handlers = o.handlers;
    this.#logger = o.logger;
    this.#verifyIntervalMs = o.verifyIntervalMs ?? VERIFY_INTERVAL_MS;
  }

  /** Lists and starts watching; resolves once the mirror holds etcd's state. */
  async start(): Promise<void> {
    await this.#listAndWatch();
    this.#scheduleVerify();
  }

  /** How many differences the periodic check found and repaired (events a watch missed). */
  get repairs(): number {
    return this.#repairs;
  }

  // Anti-entropy: etcd3 re-creates a watch after a disconnect by itself, but we measured it
  // resuming past events (a policy delete and put made while a node was cut off never arrived,
  // with no error). So every few seconds the prefix is listed and compared with the mirror; only
  // differences older than the listing are repaired, so a newer watch event is never undone.
  #scheduleVerify(): void {
    if (this.#closed || this.#verifyIntervalMs <= 0) return;
    this.#verifyTimer = setTimeout(() => {
      void this.#verify()
        .catch((err: unknown) => this.#logger.warn({ prefix: this.#prefix, err: String(err) }, 'etcd mirror check failed; retried later'))
        .finally(() => this.#scheduleVerify());
    }, this.#verifyIntervalMs);
    this.#verifyTimer.unref();
  }

  async #verify(): Promise<void> {
    if (this.#closed || this.#resyncing) return;
    const res = await this.#client.kv.range({ key: Buffer.from(this.#prefix), range_end: prefixRangeEnd(this.#prefix) });
    if (this.#closed) return;
    const listedAt = Number(res.header.revision);
    const seen = new Set<string>();
    let repaired = 0;
    for (const kv of res.kvs) {
      const key = kv.key.toString('utf8');
      seen.add(key);
      const current = this.#entries.get(key);
      if (current && current.modRevision >= Number(kv.mod_revision)) continue;
      this.#apply(key, kv);
      repaired++;
    }
    for (const [key, previous] of [...this.#entries]) {
      // An entry the watch added after the listing is newer than the list, not missing from it.
      if (seen.has(key) || previous.modRevision > listedAt) continue;
      this.#entries.delete(key);
      this.#handlers.onDelete(key, previous);
      repaired++;
    }
    if (repaired > 0) {
      this.#repairs += repaired;
      this.#logger.warn({ prefix: this.#prefix, repaired, revision: listedAt }, 'etcd mirror repaired events the watch did not deliver');
    }
  }

  get entries(): ReadonlyMap<string, MirroredValue> {
    return this.#entries;
  }

  /** The last etcd revision applied to the mirror. */
  get revision(): number {
    return this.#revision;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** How many full resyncs happened after the first list (compaction or a cancelled watch). */
  get resyncs(): number {
    return this.#resyncs;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#verifyTimer);
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (!watcher) return;
    watcher.removeAllListeners();
    // etcd3's cancel waits for etcd's answer (or for a pending re-creation): bounded, since the
    // client is closed right after anyway.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([watcher.cancel().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }

  async #listAndWatch(): Promise<void> {
    const res = await this.#client.kv.range({ key: Buffer.from(this.#prefix), range_end: prefixRangeEnd(this.#prefix) });
    const revision = Number(res.header.revision);
    const seen = new Set<string>();
    for (const kv of res.kvs) {
      const key = kv.key.toString('utf8');
      seen.add(key);
      this.#apply(key, kv);
    }
    for (const [key, previous] of [...this.#entries]) {
      if (seen.has(key)) continue;
      this.#entries.delete(key);
      this.#handlers.onDelete(key, previous);
    }
    this.#revision = revision;
    if (this.#closed) return;
    const watcher = await this.#client
      .watch()
      .prefix(this.#prefix)
      .startRevision(String(revision + 1))
      .create();
    watcher.on('put', (kv: IKeyValue) => {
      this.#apply(kv.key.toString('utf8'), kv);
      this.#revision = Math.max(this.#revision, Number(kv.mod_revision));
    });
    watcher.on('delete', (kv: IKeyValue) => {
      const key = kv.key.toString('utf8');
      const previous = this.#entries.get(key);
      this.#revision = Math.max(this.#revision, Number(kv.mod_revision));
      if (!previous) return;
      this.#entries.delete(key);
      this.#handlers.onDelete(key, previous);
    });
    // After a disconnect, etcd3 re-creates the watch itself, but the revision it resumes from is
    // not reliably the last one applied here (it can move to the server's current revision, and a
    // compaction during the outage is then not always reported): a reconnected watch is replaced
    // by a full list and diff, which is cheap at these sizes and cannot miss an event.
    let sawDisconnect = false;
    const replace = (why: string, err?: unknown): void => {
      if (this.#closed || watcher !== this.#watcher) return;
      this.#logger.warn({ prefix: this.#prefix, ...(err !== undefined ? { err: String(err) } : {}), revision: this.#revision }, why);
      this.#watcher = undefined;
      this.#connected = false;
      watcher.removeAllListeners();
      void watcher.cancel().catch(() => undefined);
      this.#resyncing ??= this.#resync().finally(() => {
        this.#resyncing = undefined;
      });
    };
    watcher.on('connected', () => {
      this.#connected = true;
      if (sawDisconnect) replace('etcd watch reconnected; resyncing from a full list');
    });
    watcher.on('disconnected', () => {
      this.#connected = false;
      sawDisconnect = true;
    });
    // A watch etcd cancels (compacted revision) does not come back by itself: list again.
    watcher.on('error', (err: unknown) => replace('etcd watch cancelled; resyncing from a full list', err));
    this.#watcher = watcher;
    this.#connected = true;
    if (this.#closed) await this.close();
  }

  async #resync(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await this.#listAndWatch();
        this.#resyncs++;
        return;
      } catch (err) {
        this.#logger.warn({ prefix: this.#prefix, err: String(err), attempt }, 'etcd resync failed; retrying');
        await delay(Math.min(2000, 200 * (attempt + 1)));
      }
    }
  }

  #apply(key: string, kv: IKeyValue): void {
    const value: MirroredValue = { value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision), lease: String(kv.lease) };
    const previous = this.#entries.get(key);
    if (previous && previous.modRevision === value.modRevision) return;
    this.#entries.set(key, value);
    this.#handlers.onPut(key, value, previous);
  }
}

/** How often a mirror is compared with etcd (a range of its prefix). */
const VERIFY_INTERVAL_MS = 5_000;
