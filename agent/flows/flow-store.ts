// The flow ring: the last `capacity` flows, queried by filter and followed live. Memory is bounded
// twice: the ring drops its oldest flow when full, and each follower holds at most
// `followerQueue` flows it has not read yet (a slow reader loses the oldest and is told how many).
import { matchesFlowFilter } from './flow-filter.js';
import type { Flow, FlowFilter, NewFlow } from './types.js';

export const DEFAULT_FLOW_CAPACITY = 16384;
export const DEFAULT_FOLLOWER_QUEUE = 4096;

export interface FlowStoreOptions {
  capacity?: number;
  followerQueue?: number;
}

export interface FlowStoreStats {
  capacity: number;
  stored: number;
  /** Flows ever added this run. */
  added: number;
  /** Flows followers lost because they read too slowly. */
  followerLost: number;
  followers: number;
}

class Follower {
  readonly queue: Flow[] = [];
  waiter: (() => void) | undefined;
  lost = 0;
  constructor(
    readonly filter: FlowFilter,
    readonly limit: number,
  ) {}
  push(flow: Flow): boolean {
    let lost = false;
    if (this.queue.length >= this.limit) {
      this.queue.shift();
      this.lost++;
      lost = true;
    }
    this.queue.push(flow);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    return lost;
  }
}

export class FlowStore {
  readonly capacity: number;
  readonly #followerQueue: number;
  /** A fixed-size ring: `#ring[(#start + i) % capacity]` is the i-th oldest. */
  readonly #ring: Array<Flow | undefined>;
  #start = 0;
  #size = 0;
  #nextId = 1;
  #followerLost = 0;
  readonly #followers = new Set<Follower>();
  readonly #listeners = new Set<(flow: Flow) => void>();

  constructor(options: FlowStoreOptions = {}) {
    this.capacity = Math.max(1, Math.floor(options.capacity ?? DEFAULT_FLOW_CAPACITY));
    this.#followerQueue = Math.max(1, Math.floor(options.followerQueue ?? DEFAULT_FOLLOWER_QUEUE));
    this.#ring = new Array<Flow | undefined>(this.capacity);
  }

  add(newFlow: NewFlow): Flow {
    const flow: Flow = { id: this.#nextId++, ...newFlow };
    if (this.#size < this.capacity) {
      this.#ring[(this.#start + this.#size) % this.capacity] = flow;
      this.#size++;
    } else {
      this.#ring[this.#start] = flow;
      this.#start = (this.#start + 1) % this.capacity;
    }
    for (const f of this.#followers) if (matchesFlowFilter(flow, f.filter) && f.push(flow)) this.#followerLost++;
    for (const l of this.#listeners) l(flow);
    return flow;
  }

  /** Matching flows, oldest first; with `last`, only the newest `last` of them. */
  query(filter: FlowFilter & { last?: number | undefined } = {}): Flow[] {
    const out: Flow[] = [];
    const limit = filter.last ?? Infinity;
    // Walk newest → oldest so `last` stops early on a full ring.
    for (let i = this.#size - 1; i >= 0 && out.length < limit; i--) {
      const flow = this.#ring[(this.#start + i) % this.capacity]!;
      if (matchesFlowFilter(flow, filter)) out.push(flow);
    }
    return out.reverse();
  }

  /**
   * Flows added from now on that match, until `signal` aborts (the iterator then ends). A follower
   * that falls `followerQueue` flows behind loses the oldest ones (counted in stats().followerLost).
   */
  follow(filter: FlowFilter, signal: AbortSignal): AsyncIterable<Flow> {
    const follower = new Follower(filter, this.#followerQueue);
    const followers = this.#followers;
    if (!signal.aborted) followers.add(follower);
    const onAbort = (): void => {
      followers.delete(follower);
      const w = follower.waiter;
      follower.waiter = undefined;
      w?.();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return {
      async *[Symbol.asyncIterator]() {
        try {
          while (!signal.aborted) {
            const flow = follower.queue.shift();
            if (flow) {
              yield flow;
              continue;
            }
            await new Promise<void>((resolve) => (follower.waiter = resolve));
          }
        } finally {
          signal.removeEventListener('abort', onAbort);
          followers.delete(follower);
          follower.queue.length = 0;
        }
      },
    };
  }

  /** Called for every flow added (metrics). Returns the unsubscribe. */
  onFlow(listener: (flow: Flow) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stats(): FlowStoreStats {
    return { capacity: this.capacity, stored: this.#size, added: this.#nextId - 1, followerLost: this.#followerLost, followers: this.#followers.size };
  }
}
