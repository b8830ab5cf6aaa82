// Feeds the flow ring: kernel verdict events (Datapath.events()) and the proxy's record batches
// (POST /v1/flows/proxy), both turned into flows with pods, identities' labels and the policy.
import type { DatapathEvent } from '../../bpf/index.js';
import type { FlowRecord } from '../../proxylib/index.js';
import type { FlowEnrichment } from './enrichment.js';
import type { FlowStore } from './flow-store.js';
import { kernelEventToFlow } from './kernel-flow.js';
import { proxyRecordToFlow } from './proxy-flow.js';

export interface FlowCollectorOptions {
  store: FlowStore;
  enrichment: FlowEnrichment;
  /** Datapath.events(): read until close() (the stream's `return` ends it). */
  events?: AsyncIterable<DatapathEvent>;
  logger?: { warn(o: object, msg: string): void };
}

export class FlowCollector {
  readonly #o: FlowCollectorOptions;
  #iterator: AsyncIterator<DatapathEvent> | undefined;
  #loop: Promise<void> = Promise.resolve();
  #kernelFlows = 0;
  #proxyFlows = 0;
  #failed = 0;

  constructor(o: FlowCollectorOptions) {
    this.#o = o;
    if (o.events) {
      this.#iterator = o.events[Symbol.asyncIterator]();
      this.#loop = this.#read(this.#iterator);
    }
  }

  async #read(it: AsyncIterator<DatapathEvent>): Promise<void> {
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      this.ingestKernelEvent(next.value);
    }
  }

  ingestKernelEvent(ev: DatapathEvent): void {
    try {
      this.#o.store.add(kernelEventToFlow(ev, this.#o.enrichment));
      this.#kernelFlows++;
    } catch (err) {
      // One event the enrichment chokes on must not stop the stream.
      this.#failed++;
      this.#o.logger?.warn({ err, endpointId: ev.endpointId }, 'kernel event not turned into a flow');
    }
  }

  /** Returns how many records became flows. */
  ingestProxyFlows(records: readonly FlowRecord[]): number {
    let n = 0;
    for (const r of records) {
      try {
        this.#o.store.add(proxyRecordToFlow(r, this.#o.enrichment));
        n++;
      } catch (err) {
        this.#failed++;
        this.#o.logger?.warn({ err, type: (r as { type?: unknown }).type }, 'proxy flow record not turned into a flow');
      }
    }
    this.#proxyFlows += n;
    return n;
  }

  stats(): { kernelFlows: number; proxyFlows: number; failed: number } {
    return { kernelFlows: this.#kernelFlows, proxyFlows: this.#proxyFlows, failed: this.#failed };
  }

  async close(): Promise<void> {
    await this.#iterator?.return?.();
    await this.#loop.catch(() => undefined);
  }
}
