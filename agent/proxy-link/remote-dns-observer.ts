// The proxy side of DNS learning when the proxy runs apart from the agent: a DnsAnswerObserver that
// POSTs each allowed answer to the agent (`/v1/fqdn/answers`), which answers once the IPs are
// allowed in the kernel. The proxy bounds the hold itself (dnsResponseMaxDelayMs), so this only
// needs to resolve when the agent answers. While the agent is away (restart, crash) the answer is
// released at once and queued, bounded (oldest dropped and counted), and the queue is replayed
// when the agent answers again: names answered during a restart are learned after it.
import type { Agent } from 'node:http';
import type { DnsAnswerEvent, DnsAnswerObserver } from '../../proxylib/index.js';
import { ANSWERS_PATH, keepAliveAgent, postJson, type PostOutcome } from './post-json.js';

export const DEFAULT_ANSWER_QUEUE = 10_000;

export interface RemoteDnsAnswerObserverOptions {
  /** The agent's API socket (`<state>/meshd.sock`). */
  socketPath: string;
  /** Answers kept while the agent is away (default 10,000); older ones are dropped and counted. */
  queueCapacity?: number;
  /** A POST with no answer by then counts as "agent away" (default 5 s). */
  requestTimeoutMs?: number;
  /** Replay probe backoff: first wait, doubled up to the max (default 100 ms → 5 s). */
  probeMinMs?: number;
  probeMaxMs?: number;
  logger?: { warn(o: object, msg: string): void; info?(o: object, msg: string): void };
}

export interface RemoteDnsAnswerObserverStats {
  /** Answers the agent took (directly or replayed). */
  delivered: number;
  /** Of those, delivered by replay. */
  replayed: number;
  /** Answers the agent refused (bad shape, or its learning failed): not retried. */
  refused: number;
  /** Answers waiting for the agent. */
  queued: number;
  /** Answers dropped because the queue was full. */
  dropped: number;
  isAgentReachable: boolean;
}

export class RemoteDnsAnswerObserver implements DnsAnswerObserver {
  readonly #o: Required<Omit<RemoteDnsAnswerObserverOptions, 'logger'>> & Pick<RemoteDnsAnswerObserverOptions, 'logger'>;
  readonly #agent: Agent;
  readonly #queue: DnsAnswerEvent[] = [];
  #isReachable = true;
  #isReplaying = false;
  #isClosed = false;
  #probeTimer: NodeJS.Timeout | undefined;
  #probeDelayMs: number;
  readonly #stats = { delivered: 0, replayed: 0, refused: 0, dropped: 0 };

  constructor(options: RemoteDnsAnswerObserverOptions) {
    this.#o = {
      socketPath: options.socketPath,
      queueCapacity: options.queueCapacity ?? DEFAULT_ANSWER_QUEUE,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      probeMinMs: options.probeMinMs ?? 100,
      probeMaxMs: options.probeMaxMs ?? 5000,
      logger: options.logger,
    };
    this.#probeDelayMs = this.#o.probeMinMs;
    this.#agent = keepAliveAgent();
  }

  async onAnswer(answer: DnsAnswerEvent): Promise<void> {
    if (this.#isClosed) return;
    if (!this.#isReachable) {
      this.#enqueue(answer);
      return;
    }
    const outcome = await this.#post(answer);
    if (outcome.kind === 'unreachable') {
      this.#markUnreachable(outcome.error);
      this.#enqueue(answer);
    } else this.#count(outcome, false);
  }

  stats(): RemoteDnsAnswerObserverStats {
    return { ...this.#stats, queued: this.#queue.length, isAgentReachable: this.#isReachable };
  }

  close(): void {
    this.#isClosed = true;
    clearTimeout(this.#probeTimer);
    this.#agent.destroy();
  }

  #post(answer: DnsAnswerEvent): Promise<PostOutcome> {
    return postJson({ agent: this.#agent, socketPath: this.#o.socketPath, path: ANSWERS_PATH, body: answer, timeoutMs: this.#o.requestTimeoutMs });
  }

  #count(outcome: PostOutcome, isReplay: boolean): void {
    if (outcome.kind === 'ok') {
      this.#stats.delivered++;
      if (isReplay) this.#stats.replayed++;
    } else if (outcome.kind === 'refused') {
      this.#stats.refused++;
      this.#o.logger?.warn({ status: outcome.status, body: outcome.body }, 'the agent refused a DNS answer');
    }
  }

  #enqueue(answer: DnsAnswerEvent): void {
    if (this.#queue.length >= this.#o.queueCapacity) {
      this.#queue.shift();
      this.#stats.dropped++;
    }
    this.#queue.push(answer);
    this.#scheduleReplay();
  }

  #markUnreachable(error: string): void {
    if (this.#isReachable) this.#o.logger?.warn({ error, socket: this.#o.socketPath }, 'agent unreachable: DNS answers are released at once and queued until it is back');
    this.#isReachable = false;
  }

  #scheduleReplay(): void {
    if (this.#isReplaying || this.#probeTimer || this.#isClosed) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      void this.#replay();
    }, this.#probeDelayMs);
    this.#probeTimer.unref();
  }

  /** Sends the queue oldest first; the first send is the probe. Backs off while the agent is away. */
  async #replay(): Promise<void> {
    if (this.#isReplaying || this.#isClosed) return;
    this.#isReplaying = true;
    try {
      while (this.#queue.length > 0 && !this.#isClosed) {
        const answer = this.#queue[0]!;
        const outcome = await this.#post(answer);
        if (outcome.kind === 'unreachable') {
          this.#isReachable = false;
          this.#probeDelayMs = Math.min(this.#probeDelayMs * 2, this.#o.probeMaxMs);
          return;
        }
        if (!this.#isReachable) this.#o.logger?.info?.({ queued: this.#queue.length }, 'agent reachable again: replaying queued DNS answers');
        this.#isReachable = true;
        this.#probeDelayMs = this.#o.probeMinMs;
        // The queue may have lost its head to the capacity bound meanwhile: drop only what was sent.
        if (this.#queue[0] === answer) this.#queue.shift();
        this.#count(outcome, true);
      }
    } finally {
      this.#isReplaying = false;
      if (this.#queue.length > 0) this.#scheduleReplay();
    }
  }
}
