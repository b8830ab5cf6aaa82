// State-of-the-World streams (ADS and the per-type services): per type a Subscription, one watch on
// the cache, and the nonce rules of research/xds.md §1.2.
import type { DiscoveryRequest } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import type { WatchResponse, XdsNode } from '../cache/index.js';
import { Subscription } from './subscription.js';
import { StreamBase, ResponseTooLarge, type TypeState } from './stream-base.js';
import { encodeSotwResponse, sotwResourcePart, splitParts } from './encode-response.js';
import type { QueuedResponse } from './response-scheduler.js';
import { WatchSlot } from './watch-slot.js';

interface SotwType extends TypeState {
  /** version_info of the latest request: the version the client holds. */
  versionInfo: string;
}

export class SotwStream extends StreamBase<SotwType> {
  onRequest(req: DiscoveryRequest): void {
    if (this.isClosed) return;
    const node = this.nodeFrom(req.node);
    const typeUrl = this.typeOf(req.typeUrl);
    if (!typeUrl) return;
    this.noteRequest(typeUrl, req);
    let t = this.types.get(typeUrl);
    if (!t) this.types.set(typeUrl, (t = { sub: new Subscription(), versionInfo: '', watch: new WatchSlot() }));
    const inFlight = this.scheduler.inFlight(typeUrl);
    const nonce = req.responseNonce;
    t.sub.setSotwNames(req.resourceNames);
    t.versionInfo = req.versionInfo;

    if (inFlight && nonce === inFlight.nonce) {
      this.noteReply(typeUrl, inFlight.version, req.versionInfo, req.errorDetail);
      this.scheduler.settle(typeUrl);
    } else if (inFlight) {
      // Stale: a newer response is on its way and its answer will carry the full subscription. Only
      // the subscription is taken from this request (xDS "ACK/NACK and resource type instance version").
      this.noteStale(typeUrl, nonce);
      if (!t.sub.isWildcard && t.sub.names.size === 0) this.scheduler.drop(typeUrl); // unsubscribed: no answer will come
      return;
    } else if (nonce !== '' && nonce !== this.scheduler.lastNonce(typeUrl)) {
      this.noteStale(typeUrl, nonce);
    }
    // error_detail repeated on later requests (grpc-js keeps it until a clean response) is not a new NACK.
    if (!this.scheduler.isBusy(typeUrl)) this.watch(typeUrl, t, node);
  }

  private watch(typeUrl: string, t: SotwType, node: XdsNode): void {
    t.watch.open(
      (respond) => this.ctx.cache.createWatch({ node, typeUrl, variant: 'sotw', versionInfo: t.versionInfo }, t.sub, respond),
      (resp) => {
        if (!this.isClosed) this.onWatchResponse(typeUrl, t, resp);
      },
    );
  }

  private onWatchResponse(typeUrl: string, t: SotwType, resp: WatchResponse): void {
    if (!resp.isFullState && resp.resources.length === 0 && t.sub.hasResponded) {
      // Removals of a type sent in parts mean nothing to the client (absence is not deletion): bookkeeping only.
      t.sub.recordSotwSent([], resp.removed, false);
      this.watch(typeUrl, t, this.info.node!);
      return;
    }
    const responses = this.split(resp);
    t.sub.recordSotwSent(resp.resources, resp.removed, resp.isFullState);
    this.queue(typeUrl, responses, { version: resp.versionInfo, resources: resp.resources });
  }

  /** LDS/CDS cannot be split (full state); other types go out in several responses under the limit. */
  private split(resp: WatchResponse): QueuedResponse[] | ResponseTooLarge {
    const limit = this.ctx.maxResponseBytes;
    const size = (r: (typeof resp.resources)[number]): number => sotwResourcePart(r).byteLength;
    const { chunks, tooLarge } = splitParts(resp.resources, size, limit);
    if (tooLarge.length > 0) {
      return new ResponseTooLarge(`${tooLarge.length} resource(s) of ${resp.typeUrl} exceed the ${limit}-byte response limit on their own (first: "${tooLarge[0]!.name}", ${size(tooLarge[0]!)} bytes)`);
    }
    if (resp.isFullState && chunks.length > 1) {
      const total = resp.resources.reduce((n, r) => n + size(r), 0);
      return new ResponseTooLarge(`the full state of ${resp.typeUrl} (${resp.resources.length} resources, ${total} bytes) exceeds the ${limit}-byte response limit and SotW cannot split it; use Delta xDS for this node`);
    }
    return chunks.map((chunk) => ({
      version: resp.versionInfo,
      resourceNames: chunk.map((r) => r.name),
      removed: [],
      encode: (nonce: string) => encodeSotwResponse(resp.versionInfo, resp.typeUrl, chunk, nonce),
    }));
  }
}
