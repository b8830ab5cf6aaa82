// One node's connection to the cluster's etcd: the client, the key layout, and the node lease that
// every ephemeral record of this node (identity references, ipcache entries, the node record) is
// bound to. When the lease is lost (etcd unreachable for longer than its TTL, so etcd has dropped
// those records), a new lease is granted as soon as etcd answers again and every registered
// re-registration hook puts its records back under it.
import { Etcd3 } from 'etcd3';
import type { Lease } from 'etcd3';
import { ClusterError } from './errors.js';
import { ClusterKeys } from './etcd-keys.js';

export interface ClusterLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const SILENT: ClusterLogger = { info() {}, warn() {}, error() {} };

export interface ClusterSessionOptions {
  /** etcd client URLs, e.g. `['http://127.0.0.1:2379']` (`meshd agent --etcd URL[,URL...]`). */
  endpoints: readonly string[];
  /** This node's name: the owner of its references, ipcache entries and node record. */
  nodeName: string;
  /** Root of every key (default `meshd`); clusters sharing one etcd use different prefixes. */
  prefix?: string;
  /** Node lease TTL (default 15 s): how long a dead node's records outlive it. */
  leaseTtlSeconds?: number;
  /** How long open() waits for etcd before failing (default 10 s). */
  connectTimeoutMs?: number;
  logger?: ClusterLogger;
}

export type LeaseHook = (leaseId: string) => Promise<void>;

export class ClusterSession {
  readonly client: Etcd3;
  readonly keys: ClusterKeys;
  readonly nodeName: string;
  readonly logger: ClusterLogger;
  readonly #ttl: number;
  #lease: Lease | undefined;
  #leaseId = '';
  #hooks: LeaseHook[] = [];
  #closed = false;
  #renewing: Promise<void> | undefined;
  #leaseGeneration = 0;

  private constructor(o: ClusterSessionOptions) {
    this.client = new Etcd3({
      hosts: [...o.endpoints],
      dialTimeout: 2000,
      // Unary calls get a deadline so that an allocate or publish during a network black hole fails
      // (and the caller keeps its state) instead of hanging; watch and keepalive streams have none.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
      faultHandling: { watchBackoff: cappedBackoff(100, WATCH_BACKOFF_MAX_MS) },
    });
    this.keys = new ClusterKeys(o.prefix ?? 'meshd');
    this.nodeName = o.nodeName;
    this.logger = o.logger ?? SILENT;
    this.#ttl = o.leaseTtlSeconds ?? 15;
  }

  static async open(o: ClusterSessionOptions): Promise<ClusterSession> {
    const session = new ClusterSession(o);
    const deadline = Date.now() + (o.connectTimeoutMs ?? 10_000);
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        await session.#grantLease();
        return session;
      } catch (err) {
        lastError = err;
        await delay(250);
      }
    }
    session.client.close();
    throw new ClusterError('MESHD_ERR_CLUSTER_ETCD_UNREACHABLE', `cannot reach etcd at ${o.endpoints.join(',')}: ${String(lastError)}`, {
      hint: 'check `--etcd` (http://host:2379) and that etcd is running (`etcdctl endpoint health`)',
      cause: lastError,
    });
  }

  /** The current lease id (decimal string, as etcd3 gives it). Changes after a lease loss. */
  get leaseId(): string {
    return this.#leaseId;
  }

  /** Incremented each time a new lease replaces a lost one (tests and metrics read it). */
  get leaseGeneration(): number {
    return this.#leaseGeneration;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `hook` with every new lease that replaces a lost one (not the first lease). */
  onLeaseRenewed(hook: LeaseHook): () => void {
    this.#hooks.push(hook);
    return () => {
      this.#hooks = this.#hooks.filter((h) => h !== hook);
    };
  }

  /** Resolves when a lease renewal in progress (if any) has re-registered everything. */
  async settled(): Promise<void> {
    while (this.#renewing) await this.#renewing;
  }

  assertOpen(): void {
    if (this.#closed) throw new ClusterError('MESHD_ERR_CLUSTER_CLOSED', 'the cluster session is closed');
  }

  /**
   * Leaves the cluster. With `revoke` (a clean shutdown of a node that goes away) the lease is
   * revoked so other nodes see its records vanish at once; without it (an agent restart) they
   * stay until the TTL and the restarted agent replaces them.
   */
  async close(o: { revoke?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease) {
      lease.removeAllListeners('lost');
      // Bounded: a shutdown must not hang on an unreachable etcd (the lease then simply expires).
      if (o.revoke) await lease.revoke({ deadline: Date.now() + REVOKE_DEADLINE_MS }).catch(() => lease.release());
      else lease.release();
    }
    this.client.close();
  }

  async #grantLease(): Promise<void> {
    const lease = this.client.lease(this.#ttl, { autoKeepAlive: true });
    // Without a listener the EventEmitter would throw on 'lost' before grant resolves.
    lease.on('lost', (err: unknown) => this.#onLost(lease, err));
    try {
      this.#leaseId = await lease.grant();
    } catch (err) {
      lease.removeAllListeners('lost');
      lease.release();
      throw err;
    }
    this.#lease = lease;
  }

  #onLost(lease: Lease, err: unknown): void {
    if (this.#closed || lease !== this.#lease || this.#renewing) return;
    this.logger.warn({ err: String(err), leaseId: this.#leaseId }, 'etcd lease lost; re-registering under a new lease when etcd answers');
    this.#renewing = this.#renew().finally(() => {
      this.#renewing = undefined;
    });
  }

  // Retries until etcd answers (or close()); every hook then re-puts its records.
  async #renew(): Promise<void> {
    const old = this.#lease;
    old?.removeAllListeners('lost');
    old?.release();
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await this.#grantLease();
        break;
      } catch {
        await delay(Math.min(2000, 200 * (attempt + 1)));
      }
    }
    if (this.#closed) return;
    this.#leaseGeneration++;
    this.logger.info({ leaseId: this.#leaseId }, 'new etcd lease granted');
    // Hooks are idempotent puts: on a failure (etcd gone again) all of them run again.
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        for (const hook of this.#hooks) await hook(this.#leaseId);
        return;
      } catch (err) {
        this.logger.error({ err: String(err), attempt }, 'cannot re-register cluster records under the new lease; retrying');
        await delay(Math.min(2000, 200 * (attempt + 1)));
      }
    }
  }
}

// etcd3's default watch backoff grows to 30 s: after a long outage the watches would come back up
// to 30 s after etcd does (and a closed client's pending retry timer would hold the process that
// long). A cap of 2 s keeps catch-up prompt; etcd's own load from 2 s retries is negligible.
const WATCH_BACKOFF_MAX_MS = 2000;
const CALL_DEADLINE_MS = 5000;
const REVOKE_DEADLINE_MS = 2000;

interface Backoff {
  readonly duration: number;
  next(context: unknown): Backoff;
}

function cappedBackoff(duration: number, max: number): Backoff {
  return { duration, next: () => cappedBackoff(Math.min(max, duration * 2), max) };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
