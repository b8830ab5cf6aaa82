// Records this node owns under its lease (ipcache entries, the node record): kept in memory so
// they can be put back under a new lease after the old one was lost.
import type { ClusterSession } from './cluster-session.js';

export class LeaseBoundRecords {
  readonly #session: ClusterSession;
  readonly #records = new Map<string, string>();
  readonly #off: () => void;

  constructor(session: ClusterSession) {
    this.#session = session;
    this.#off = session.onLeaseRenewed(async () => {
      for (const [key, value] of [...this.#records]) await this.#put(key, value);
    });
  }

  async put(key: string, value: string): Promise<void> {
    this.#session.assertOpen();
    this.#records.set(key, value);
    await this.#put(key, value);
  }

  /** Deletes the key only while it is still ours (same lease): a newer owner's record stays. */
  async delete(key: string): Promise<void> {
    this.#session.assertOpen();
    this.#records.delete(key);
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
    this.#off();
  }

  async #put(key: string, value: string): Promise<void> {
    await this.#session.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease: this.#session.leaseId });
  }
}
