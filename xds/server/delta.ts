// Incremental (Delta) streams: subscribe/unsubscribe, removed_resources and initial_resource_versions
// (research/xds.md §1.3), on the same Subscription model and scheduler as SotW.
import type { DeltaDiscoveryRequest } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import type { WatchResponse, XdsNode, XdsResource } from '../cache/index.js';
import { Subscription } from './subscription.js';
import { StreamBase, ResponseTooLarge, type TypeState } from './stream-base.js';
import { deltaResourcePart, encodeDeltaResponse, splitParts } from './encode-response.js';
import type { QueuedResponse } from './response-scheduler.js';
import { WatchSlot } from './watch-slot.js';

type Item = { resource: XdsResource } | { removed: string };

export class DeltaStream extends StreamBase {
  onRequest(req: DeltaDiscoveryRequest): void {
    if (this.isClosed) return;
    const node = this.nodeFrom(req.node);
    const typeUrl = this.typeOf(req.typeUrl);
    if (!typeUrl) return;
    this.noteRequest(typeUrl, req);
    let t = this.types.get(typeUrl);
    const isFirst = !t;
    if (!t) this.types.set(typeUrl, (t = { sub: new Subscription(), watch: new WatchSlot() }));
    // Subscription changes are honoured even with a stale nonce (envoy PR #16659).
    t.sub.applyDelta(req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, isFirst, isFirst ? req.initialResourceVersions : {});
    const inFlight = this.scheduler.inFlight(typeUrl);
    if (inFlight && req.responseNonce === inFlight.nonce) {
      this.noteReply(typeUrl, inFlight.version, '', req.errorDetail);
      this.scheduler.settle(typeUrl);
    } else if (req.responseNonce !== '') {
      this.noteStale(typeUrl, req.responseNonce);
    }
    if (!this.scheduler.isBusy(typeUrl)) this.watch(typeUrl, t, node);
  }

  private watch(typeUrl: string, t: TypeState, node: XdsNode): void {
    t.watch.open(
      (respond) => this.ctx.cache.createDeltaWatch({ node, typeUrl, variant: 'delta', versionInfo: '' }, t.sub, respond),
      (resp) => {
        if (this.isClosed) return;
        const responses = this.split(resp);
        t.sub.recordDeltaSent(resp.resources, resp.removed);
        this.queue(typeUrl, responses, { version: resp.systemVersionInfo, resources: resp.resources });
      },
    );
  }

  /** Delta may split anything: resources and removals are spread over responses under the limit. */
  private split(resp: WatchResponse): QueuedResponse[] | ResponseTooLarge {
    const limit = this.ctx.maxResponseBytes;
    const items: Item[] = [...resp.removed.map((removed) => ({ removed })), ...resp.resources.map((resource) => ({ resource }))];
    const size = (i: Item): number => ('resource' in i ? deltaResourcePart(i.resource).byteLength : i.removed.length + 8);
    const { chunks, tooLarge } = splitParts(items, size, limit);
    if (tooLarge.length > 0) {
      const first = tooLarge[0]!;
      const name = 'resource' in first ? first.resource.name : first.removed;
      return new ResponseTooLarge(`${tooLarge.length} resource(s) of ${resp.typeUrl} exceed the ${limit}-byte response limit on their own (first: "${name}", ${size(first)} bytes)`);
    }
    return chunks.map((chunk) => {
      const resources = chunk.flatMap((i) => ('resource' in i ? [i.resource] : []));
      const removed = chunk.flatMap((i) => ('removed' in i ? [i.removed] : []));
      return {
        version: resp.systemVersionInfo,
        resourceNames: resources.map((r) => r.name),
        removed,
        encode: (nonce: string) => encodeDeltaResponse(resp.systemVersionInfo, resp.typeUrl, resources, removed, nonce),
      };
    });
  }
}
