// Turns "something changed" into one pass over kernel and xDS: changes that arrive close together
// (a policy directory of 50 files, 100 pods started by a script) are debounced into one run, and
// runs never overlap (each sees the state the previous one left). A caller's promise resolves
// when a run that started after its request has finished, so `policy apply` can answer "enforced".
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';

export interface ReconcileScope {
  /** Every endpoint's policy is recomputed (a policy changed). */
  all: boolean;
  /** Endpoints (`namespace/name`) added, changed or removed. */
  endpoints: Set<string>;
  /** Selector keys whose selections changed (identities came or went). */
  selectorKeys: Set<string>;
  /** Policies changed (toFQDNs selectors and CIDR prefixes are read again). */
  policies: boolean;
}

export interface ReconcilerOptions {
  debounceMs: number;
  logger: Logger;
  run(scope: ReconcileScope): Promise<void> | void;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that does not wait must not turn a failed run into an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export interface ReconcilerStats {
  runs: number;
  failures: number;
  lastDurationMs: number | undefined;
  lastRunAt: Date | undefined;
  lastError: string | undefined;
}

export class Reconciler {
  readonly #o: ReconcilerOptions;
  #scope: ReconcileScope = emptyScope();
  #waiting: Deferred | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #paused = true;
  #closed = false;
  readonly #listeners = new Set<(e: { durationMs: number; scope: ReconcileScope; error?: unknown }) => void>();
  readonly stats: ReconcilerStats = { runs: 0, failures: 0, lastDurationMs: undefined, lastRunAt: undefined, lastError: undefined };

  constructor(o: ReconcilerOptions) {
    this.#o = o;
  }

  /** Starts running queued changes (the agent calls it once every component is up). */
  resume(): void {
    this.#paused = false;
    if (this.#waiting) this.#schedule();
  }

  /** Queues a change; resolves after it reached kernel and xDS (rejects when that run failed). */
  /** An empty change still recomputes the xDS snapshot (the kernel was written already). */
  request(change: { all?: boolean; policies?: boolean; endpoints?: Iterable<string>; selectorKeys?: Iterable<string> } = {}): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const s = this.#scope;
    if (change.all) s.all = true;
    if (change.policies) s.policies = true;
    for (const id of change.endpoints ?? []) s.endpoints.add(id);
    for (const k of change.selectorKeys ?? []) s.selectorKeys.add(k);
    this.#waiting ??= deferred();
    const promise = this.#waiting.promise;
    if (!this.#paused) this.#schedule();
    return promise;
  }

  /** Takes selector keys back out of the queue (they were handled synchronously already). */
  forgetSelectorKeys(keys: Iterable<string>): void {
    for (const k of keys) this.#scope.selectorKeys.delete(k);
  }

  onRun(listener: (e: { durationMs: number; scope: ReconcileScope; error?: unknown }) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Lets a running pass finish; queued changes are dropped (the next agent recomputes all). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
    this.#waiting?.resolve();
    this.#waiting = undefined;
  }

  #schedule(): void {
    if (this.#timer || this.#running || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#runOnce().finally(() => {
        this.#running = undefined;
        if (this.#waiting && !this.#closed) this.#schedule();
      });
    }, this.#o.debounceMs);
  }

  async #runOnce(): Promise<void> {
    const scope = this.#scope;
    const waiting = this.#waiting;
    this.#scope = emptyScope();
    this.#waiting = undefined;
    const t0 = performance.now();
    try {
      await this.#o.run(scope);
      const durationMs = performance.now() - t0;
      this.#record(durationMs);
      for (const l of this.#listeners) l({ durationMs, scope });
      waiting?.resolve();
    } catch (err) {
      const durationMs = performance.now() - t0;
      this.#record(durationMs);
      this.stats.failures++;
      this.stats.lastError = (err as Error).message;
      this.#o.logger.error({ err, scope: describe(scope) }, 'reconcile: failed; the previous kernel policy and xDS snapshot stay where not written');
      for (const l of this.#listeners) l({ durationMs, scope, error: err });
      waiting?.reject(err);
    }
  }

  #record(durationMs: number): void {
    this.stats.runs++;
    this.stats.lastDurationMs = durationMs;
    this.stats.lastRunAt = new Date();
  }
}

function emptyScope(): ReconcileScope {
  return { all: false, policies: false, endpoints: new Set(), selectorKeys: new Set() };
}

export function describe(scope: ReconcileScope): object {
  return { all: scope.all, policies: scope.policies, endpoints: scope.endpoints.size, selectorKeys: scope.selectorKeys.size };
}
