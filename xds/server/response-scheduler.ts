// Per stream: one response in flight per type (backpressure, Istio PR #28261), and on ADS the push
// order of order.ts: a type waits while a type before it has a response queued or unanswered, so a
// listener never overtakes the clusters and endpoints it needs. A hold lasts at most `holdMs`, so a
// client that never answers one type (grpc-js ignores types it did not ask for) cannot stall the rest.
import { compareTypeUrls } from './order.js';

export interface QueuedResponse {
  version: string;
  resourceNames: string[];
  removed: string[];
  encode(nonce: string): Uint8Array;
}

export interface InFlight {
  nonce: string;
  version: string;
  sentAt: number;
}

interface TypeQueue {
  inFlight: InFlight | undefined;
  queue: QueuedResponse[];
  lastNonce: string;
}

export type WriteResponse = (typeUrl: string, bytes: Uint8Array, sent: QueuedResponse & { nonce: string }) => void;

export class ResponseScheduler {
  private readonly types = new Map<string, TypeQueue>();
  private nonceCounter = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private pumpScheduled = false;

  constructor(
    private readonly write: WriteResponse,
    private readonly holdMs: number,
  ) {}

  private entry(typeUrl: string): TypeQueue {
    let e = this.types.get(typeUrl);
    if (!e) this.types.set(typeUrl, (e = { inFlight: undefined, queue: [], lastNonce: '' }));
    return e;
  }

  /**
   * Sending waits for a microtask: one setSnapshot wakes the watches of every changed type synchronously,
   * in no particular order, and they must all be queued before the first goes out in push order.
   */
  enqueue(typeUrl: string, responses: QueuedResponse[]): void {
    this.entry(typeUrl).queue.push(...responses);
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  inFlight(typeUrl: string): InFlight | undefined {
    return this.types.get(typeUrl)?.inFlight;
  }

  /** The nonce of the latest response sent for the type ('' if none). */
  lastNonce(typeUrl: string): string {
    return this.types.get(typeUrl)?.lastNonce ?? '';
  }

  isBusy(typeUrl: string): boolean {
    const e = this.types.get(typeUrl);
    return !!e && (e.inFlight !== undefined || e.queue.length > 0);
  }

  /** The client answered the in-flight response (ACK or NACK). */
  settle(typeUrl: string): void {
    const e = this.types.get(typeUrl);
    if (e) e.inFlight = undefined;
    this.pump();
  }

  /** The client dropped the type: nothing queued is wanted and no answer will come. */
  drop(typeUrl: string): void {
    const e = this.types.get(typeUrl);
    if (e) {
      e.inFlight = undefined;
      e.queue = [];
    }
    this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.types.clear();
  }

  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    let heldUntil = Infinity;
    let blocked = false;
    for (const typeUrl of [...this.types.keys()].sort(compareTypeUrls)) {
      const e = this.types.get(typeUrl)!;
      if (!blocked && e.inFlight === undefined) {
        const next = e.queue.shift();
        if (next) this.send(typeUrl, e, next, now);
      }
      // Later types wait while this one has something unanswered, for at most holdMs.
      if (e.inFlight && now - e.inFlight.sentAt < this.holdMs) {
        blocked = true;
        heldUntil = Math.min(heldUntil, e.inFlight.sentAt + this.holdMs);
      }
    }
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    if (blocked && heldUntil !== Infinity && this.hasQueued()) {
      this.holdTimer = setTimeout(() => this.pump(), Math.max(1, heldUntil - Date.now()));
      this.holdTimer.unref();
    }
  }

  private hasQueued(): boolean {
    for (const e of this.types.values()) if (e.queue.length > 0) return true;
    return false;
  }

  private send(typeUrl: string, e: TypeQueue, next: QueuedResponse, now: number): void {
    const nonce = String(++this.nonceCounter);
    e.inFlight = { nonce, version: next.version, sentAt: now };
    e.lastNonce = nonce;
    this.write(typeUrl, next.encode(nonce), { ...next, nonce });
  }
}
