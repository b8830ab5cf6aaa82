// Verdict events from the ring buffer as an async iterator. One RingBufferReader per Datapath
// while at least one iterator is open; every open iterator sees every event (a ring buffer is
// consumed destructively, so two readers would split the stream between them).
import { RingBufferReader, type BpfMap } from '../addon/index.js';
import { AF_INET, DIRECTION, HOOK, IPPROTO, VERDICT, type DirectionName, type HookName, type VerdictName } from './constants.js';
import { decodeVerdictEvent, VERDICT_EVENT_SIZE } from './codecs.js';
import { formatAddress } from './addresses.js';
import { dropReasonName } from './drop-reasons.js';

export interface DatapathEvent {
  /** CLOCK_MONOTONIC (the clock of process.hrtime.bigint()). */
  timestampNs: bigint;
  /** Socket cookie: the same socket's events share it. */
  cookie: bigint;
  endpointId: number;
  localIdentity: number;
  peerIdentity: number;
  family: 4 | 6;
  protocol: 'tcp' | 'udp' | number;
  /** Whose policy decided: egress of `endpointId`, or ingress of `endpointId` (then the peer is
   *  the source). An ingress verdict on a local client's connection is taken at that client's
   *  connect (hook 'connect', direction 'ingress', endpointId the destination pod). */
  direction: DirectionName;
  /** 'audit': policy would have denied (dropReason says why), the endpoint is in audit mode,
   *  the traffic passed. */
  verdict: VerdictName;
  /** Number from bpf/lib/drop_reasons.h (0 unless denied or audited) and its name. */
  dropReason: number;
  dropReasonName: string;
  /** The proxy port of a redirect (or, at cgroup_skb, of an ingress L7 entry that a client not
   *  on this node met: enforced at L3/L4 only). */
  proxyPort: number;
  hook: HookName;
  /** Connection source; for ingress the peer. Port 0 when the socket was not bound yet. */
  source: { address: string; port: number };
  /** Connection destination; for redirects the original one. */
  destination: { address: string; port: number };
}

const DIRECTION_NAMES = invert(DIRECTION);
const VERDICT_NAMES = invert(VERDICT);
const HOOK_NAMES = invert(HOOK);

function decodeEvent(record: Buffer): DatapathEvent | undefined {
  if (record.length < VERDICT_EVENT_SIZE) return undefined;
  const e = decodeVerdictEvent(record);
  return {
    timestampNs: e.timestampNs,
    cookie: e.cookie,
    endpointId: e.endpointId,
    localIdentity: e.localIdentity,
    peerIdentity: e.peerIdentity,
    family: e.family === AF_INET ? 4 : 6,
    protocol: e.protocol === IPPROTO.TCP ? 'tcp' : e.protocol === IPPROTO.UDP ? 'udp' : e.protocol,
    direction: DIRECTION_NAMES.get(e.direction) ?? 'egress',
    verdict: VERDICT_NAMES.get(e.verdict) ?? 'denied',
    dropReason: e.dropReason,
    dropReasonName: dropReasonName(e.dropReason),
    proxyPort: e.proxyPort,
    hook: HOOK_NAMES.get(e.hook) ?? 'connect',
    source: { address: formatAddress(e.family, e.saddr), port: e.sport },
    destination: { address: formatAddress(e.family, e.daddr), port: e.dport },
  };
}

/** Fans one ring buffer out to every open iterator; each buffers at most `maxQueued` events
 *  and counts what it had to drop (a consumer that stops reading must not grow the heap). */
export class EventHub {
  readonly #map: BpfMap;
  readonly #subscribers = new Set<Subscriber>();
  #reader: RingBufferReader | undefined;

  constructor(map: BpfMap) {
    this.#map = map;
  }

  subscribe(maxQueued = 65536): EventStream {
    const sub = new Subscriber(maxQueued, () => this.#unsubscribe(sub));
    this.#subscribers.add(sub);
    if (!this.#reader) {
      this.#reader = new RingBufferReader(this.#map, (records) => {
        for (const record of records) {
          const event = decodeEvent(record);
          if (event) for (const s of this.#subscribers) s.push(event);
        }
      });
    }
    return sub;
  }

  close(): void {
    for (const s of [...this.#subscribers]) s.end();
    this.#reader?.close();
    this.#reader = undefined;
  }

  #unsubscribe(sub: Subscriber): void {
    this.#subscribers.delete(sub);
    if (this.#subscribers.size === 0) {
      this.#reader?.close();
      this.#reader = undefined;
    }
  }
}

export interface EventStream extends AsyncIterableIterator<DatapathEvent> {
  /** Events dropped because this iterator fell more than its queue bound behind. */
  readonly lostEvents: number;
  /** Stops this iterator (the same as `return()`, or leaving a for-await loop). */
  close(): void;
}

class Subscriber implements EventStream {
  readonly #queue: DatapathEvent[] = [];
  readonly #waiting: Array<(r: IteratorResult<DatapathEvent>) => void> = [];
  readonly #maxQueued: number;
  readonly #onEnd: () => void;
  #ended = false;
  lostEvents = 0;

  constructor(maxQueued: number, onEnd: () => void) {
    this.#maxQueued = maxQueued;
    this.#onEnd = onEnd;
  }

  push(event: DatapathEvent): void {
    if (this.#ended) return;
    const waiter = this.#waiting.shift();
    if (waiter) return waiter({ value: event, done: false });
    if (this.#queue.length >= this.#maxQueued) {
      this.#queue.shift();
      this.lostEvents++;
    }
    this.#queue.push(event);
  }

  next(): Promise<IteratorResult<DatapathEvent>> {
    const event = this.#queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  return(): Promise<IteratorResult<DatapathEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  close(): void {
    this.end();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#queue.length = 0;
    for (const w of this.#waiting.splice(0)) w({ value: undefined, done: true });
    this.#onEnd();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function invert<K extends string>(o: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(o).map(([k, v]) => [v as number, k as K]));
}
