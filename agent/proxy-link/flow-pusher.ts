// The proxy side of flow export: subscribes to proxylib's flow channel and POSTs batches (at most
// `maxBatch` records, or whatever gathered in `flushMs`) to the agent's `/v1/flows/proxy`, one
// request at a time. While the agent is away records wait in a bounded buffer (oldest dropped and
// counted) and the batch is retried with backoff: flows are observability, never worth the proxy's
// memory.
import type { Agent } from 'node:http';
import { subscribeFlows, type FlowRecord } from '../../proxylib/index.js';
import { PROXY_FLOWS_PATH, keepAliveAgent, postJson } from './post-json.js';

export interface FlowPusherOptions {
  socketPath: string;
  maxBatch?: number;
  flushMs?: number;
  /** Records kept while the agent is away (default 16,384). */
  bufferCapacity?: number;
  requestTimeoutMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Where records come from (default: proxylib's flow channel). */
  subscribe?: (onRecord: (r: FlowRecord) => void) => () => void;
  logger?: { warn(o: object, msg: string): void };
}

export interface FlowPusherStats {
  pushed: number;
  batches: number;
  buffered: number;
  dropped: number;
  refused: number;
}

/** The body of POST /v1/flows/proxy. */
export interface ProxyFlowBatch {
  records: FlowRecord[];
}

export class FlowPusher {
  readonly #socketPath: string;
  readonly #maxBatch: number;
  readonly #flushMs: number;
  readonly #capacity: number;
  readonly #timeoutMs: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #logger: FlowPusherOptions['logger'];
  readonly #agent: Agent;
  readonly #unsubscribe: () => void;
  #buffer: FlowRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #retryMs: number;
  #isAway = false;
  #isClosed = false;
  readonly #stats = { pushed: 0, batches: 0, dropped: 0, refused: 0 };

  constructor(o: FlowPusherOptions) {
    this.#socketPath = o.socketPath;
    this.#maxBatch = o.maxBatch ?? 256;
    this.#flushMs = o.flushMs ?? 50;
    this.#capacity = o.bufferCapacity ?? 16384;
    this.#timeoutMs = o.requestTimeoutMs ?? 5000;
    this.#retryMinMs = o.retryMinMs ?? 100;
    this.#retryMaxMs = o.retryMaxMs ?? 5000;
    this.#retryMs = this.#retryMinMs;
    this.#logger = o.logger;
    this.#agent = keepAliveAgent();
    this.#unsubscribe = (o.subscribe ?? subscribeFlows)((r) => this.push(r));
  }

  push(record: FlowRecord): void {
    if (this.#isClosed) return;
    if (this.#buffer.length >= this.#capacity) {
      this.#buffer.shift();
      this.#stats.dropped++;
    }
    this.#buffer.push(record);
    if (this.#isAway) return; // the retry timer sends when the agent is back
    if (this.#buffer.length >= this.#maxBatch) this.#kick();
    else this.#arm(this.#flushMs);
  }

  stats(): FlowPusherStats {
    return { ...this.#stats, buffered: this.#buffer.length };
  }

  /** Stops listening and makes one last attempt (bounded by `timeoutMs`) to send what is buffered. */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#unsubscribe();
    clearTimeout(this.#timer);
    await this.#inFlight;
    if (this.#buffer.length > 0 && !this.#isAway) {
      const records = this.#buffer.splice(0);
      const outcome = await postJson({ agent: this.#agent, socketPath: this.#socketPath, path: PROXY_FLOWS_PATH, body: { records } satisfies ProxyFlowBatch, timeoutMs });
      if (outcome.kind === 'ok') this.#stats.pushed += records.length;
      else this.#stats.dropped += records.length;
    } else this.#stats.dropped += this.#buffer.splice(0).length;
    this.#agent.destroy();
  }

  #arm(ms: number): void {
    if (this.#timer || this.#isClosed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, ms);
    this.#timer.unref();
  }

  #kick(): void {
    if (this.#inFlight || this.#isClosed || this.#buffer.length === 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight = this.#send().finally(() => {
      this.#inFlight = undefined;
      if (this.#isClosed || this.#buffer.length === 0) return;
      if (this.#isAway) this.#arm(this.#retryMs);
      else if (this.#buffer.length >= this.#maxBatch) this.#kick();
      else this.#arm(this.#flushMs);
    });
  }

  async #send(): Promise<void> {
    const records = this.#buffer.splice(0, this.#maxBatch);
    const outcome = await postJson({ agent: this.#agent, socketPath: this.#socketPath, path: PROXY_FLOWS_PATH, body: { records } satisfies ProxyFlowBatch, timeoutMs: this.#timeoutMs });
    if (outcome.kind === 'unreachable') {
      if (!this.#isAway) this.#logger?.warn({ error: outcome.error }, 'agent unreachable: flow records are buffered (bounded) until it is back');
      this.#isAway = true;
      this.#retryMs = Math.min(this.#retryMs * 2, this.#retryMaxMs);
      // Put the batch back in front; what no longer fits is the oldest, dropped and counted.
      this.#buffer = [...records, ...this.#buffer];
      const excess = this.#buffer.length - this.#capacity;
      if (excess > 0) {
        this.#buffer.splice(0, excess);
        this.#stats.dropped += excess;
      }
      return;
    }
    this.#isAway = false;
    this.#retryMs = this.#retryMinMs;
    this.#stats.batches++;
    if (outcome.kind === 'ok') this.#stats.pushed += records.length;
    else {
      this.#stats.refused += records.length;
      this.#logger?.warn({ status: outcome.status, body: outcome.body }, 'the agent refused a flow batch');
    }
  }
}
