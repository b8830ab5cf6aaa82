// The shared ipcache: each node publishes its pods' IPs (identity, node) under its lease; every
// node mirrors all entries and is told of additions and removals — the feed for the datapath's
// ipcache and for the xDS translation. A dead node's entries vanish with its lease.
import type { ClusterSession } from './cluster-session.js';
import { decodeSegment } from './etcd-keys.js';
import { LeaseBoundRecords } from './lease-bound-records.js';
import { PrefixReflector } from './prefix-reflector.js';

export interface ClusterIpcacheEntry {
  readonly ip: string;
  readonly identity: number;
  /** The node whose pod holds the IP. */
  readonly node: string;
  /** `namespace/name` of the pod, for flows and `meshd endpoint list`. */
  readonly pod?: string;
}

export type IpcacheEvent =
  | { readonly type: 'upsert'; readonly entry: ClusterIpcacheEntry; readonly previous?: ClusterIpcacheEntry }
  | { readonly type: 'delete'; readonly entry: ClusterIpcacheEntry };

export type IpcacheListener = (event: IpcacheEvent) => void;

export class ClusterIpcache {
  readonly #session: ClusterSession;
  readonly #own: LeaseBoundRecords;
  readonly #entries = new Map<string, ClusterIpcacheEntry>();
  readonly #reflector: PrefixReflector;
  #listeners: IpcacheListener[] = [];

  private constructor(session: ClusterSession) {
    this.#session = session;
    this.#own = new LeaseBoundRecords(session);
    const prefix = session.keys.ipcache;
    this.#reflector = new PrefixReflector({
      client: session.client,
      prefix,
      logger: session.logger,
      handlers: {
        onPut: (key, value) => {
          const entry = this.#decode(key.slice(prefix.length), value.value);
          if (!entry) return;
          const previous = this.#entries.get(entry.ip);
          this.#entries.set(entry.ip, entry);
          this.#emit(previous ? { type: 'upsert', entry, previous } : { type: 'upsert', entry });
        },
        onDelete: (key) => {
          const ip = safeDecode(key.slice(prefix.length));
          const entry = ip === undefined ? undefined : this.#entries.get(ip);
          if (!entry || ip === undefined) return;
          this.#entries.delete(ip);
          this.#emit({ type: 'delete', entry });
        },
      },
    });
  }

  /** Resolves once every entry of the cluster is mirrored (the initial list). */
  static async open(o: { session: ClusterSession; listener?: IpcacheListener }): Promise<ClusterIpcache> {
    const ipcache = new ClusterIpcache(o.session);
    if (o.listener) ipcache.#listeners.push(o.listener);
    await ipcache.#reflector.start();
    return ipcache;
  }

  /** Publishes (or updates) one IP of a pod on this node. */
  async publish(entry: { ip: string; identity: number; pod?: string }): Promise<void> {
    const record: ClusterIpcacheEntry = { ip: entry.ip, identity: entry.identity, node: this.#session.nodeName, ...(entry.pod !== undefined ? { pod: entry.pod } : {}) };
    await this.#own.put(this.#session.keys.ipcacheEntry(entry.ip), JSON.stringify(record));
  }

  /** Withdraws an IP this node published (a newer owner's entry for the same IP stays). */
  async unpublish(ip: string): Promise<void> {
    await this.#own.delete(this.#session.keys.ipcacheEntry(ip));
  }

  get(ip: string): ClusterIpcacheEntry | undefined {
    return this.#entries.get(ip);
  }

  entries(): ClusterIpcacheEntry[] {
    return [...this.#entries.values()];
  }

  /** Entries of other nodes only: what the datapath must learn (local pods it knows already). */
  remoteEntries(): ClusterIpcacheEntry[] {
    return this.entries().filter((e) => e.node !== this.#session.nodeName);
  }

  onChange(listener: IpcacheListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  get watchRevision(): number {
    return this.#reflector.revision;
  }

  /** Full resyncs since open (etcd cancelled the watch, e.g. its revision was compacted). */
  get watchResyncs(): number {
    return this.#reflector.resyncs;
  }

  async close(): Promise<void> {
    this.#own.close();
    await this.#reflector.close();
  }

  #decode(ipSegment: string, value: string): ClusterIpcacheEntry | undefined {
    try {
      const ip = decodeSegment(ipSegment);
      const parsed = JSON.parse(value) as Partial<ClusterIpcacheEntry>;
      if (parsed.ip !== ip || !Number.isInteger(parsed.identity) || typeof parsed.node !== 'string') throw new Error('missing ip, identity or node');
      return { ip, identity: parsed.identity as number, node: parsed.node, ...(typeof parsed.pod === 'string' ? { pod: parsed.pod } : {}) };
    } catch (err) {
      this.#session.logger.warn({ code: 'MESHD_ERR_CLUSTER_BAD_RECORD', key: ipSegment, err: String(err) }, 'ignoring an undecodable ipcache record');
      return undefined;
    }
  }

  #emit(event: IpcacheEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#session.logger.error({ err: String(err) }, 'ipcache listener failed');
      }
    }
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeSegment(segment);
  } catch {
    return undefined;
  }
}
