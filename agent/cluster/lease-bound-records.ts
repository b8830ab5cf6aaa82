// Records this node owns under its lease (ipcache entries, the node record): kept in memory so
// they can be put back under a new lease after the old one was lost, and so a put or delete that
// failed while etcd was unreachable is retried in the background until etcd takes it: an outage
// shorter than the lease must not leave a pod unknown to the other nodes.
import type { ClusterSession } from './cluster-session.js';

export class LeaseBoundRecords {
  readonly #session: ClusterSession;
  readonly #records = new Map<string, string>();
  readonly #off: () => void;
  /** Keys whose last put or delete failed: retried until etcd takes them (or the key changes again). */
  readonly #unsynced = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = RETRY_MIN_MS;
  #closed = false;

  constructor(session: ClusterSession) {
    this.#session = session;
    this.#off = session.onLeaseRenewed(async () => {
      for (const [key, value] of [...this.#records]) await this.#put(key, value);
    });
  }

  async put(key: string, value: string): Promise<void> {
    this.#session.assertOpen();
    this.#records.set(key, value);
    await this.#tracked(key, () => this.#put(key, value));
  }

  /** Deletes the key only while it is still ours (same lease): a newer owner's record stays. */
  async delete(key: string): Promise<void> {
    this.#session.assertOpen();
    this.#records.delete(key);
    await this.#tracked(key, () => this.#delete(key));
  }

  /** Keys not yet in etcd as this node wants them (for status and tests). */
  unsyncedCount(): number {
    return this.#unsynced.size;
  }

  async #tracked(key: string, write: () => Promise<void>): Promise<void> {
    try {
      await write();
      this.#unsynced.delete(key);
    } catch (err) {
      this.#unsynced.add(key);
      this.#scheduleRetry();
      throw err;
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setTimeout(() => void this.#retry(), this.#retryDelayMs);
    this.#retryTimer.unref();
  }

  async #retry(): Promise<void> {
    this.#retryTimer = undefined;
    if (this.#closed || this.#session.closed) return;
    for (const key of [...this.#unsynced]) {
      const value = this.#records.get(key);
      try {
        if (value !== undefined) await this.#put(key, value);
        else await this.#delete(key);
        this.#unsynced.delete(key);
      } catch {
        break; // etcd still away: try again later, with a longer pause
      }
    }
    if (this.#unsynced.size === 0) {
      this.#retryDelayMs = RETRY_MIN_MS;
      return;
    }
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, RETRY_MAX_MS);
    this.#scheduleRetry();
  }

  async #delete(key: string): Promise<void> {
    await this.#session.client.kv.txn({
      compare: [{ key: Buffer.from(key), target: 'Lease', result: 'Equal', lease: this.#session.leaseId }],
      success: [{ request_delete_range: { key: Buffer.from(key) } }],
      failure: [],
    });
  }

  has(key: string): boolean {
    return this.#records.has(key);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#off();
  }

  async #put(key: string, value: string): Promise<void> {
    await this.#session.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease: this.#session.leaseId });
  }
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5_000;
