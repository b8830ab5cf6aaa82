// The part of a discovery stream that SotW and Delta share: node from the first request, type URL
// resolution, the response scheduler, ACK/NACK accounting, size-limit failures and teardown.
import * as grpc from '@grpc/grpc-js';
import type { Node } from '../generated/envoy/config/core/v3/base_pb.js';
import type { Status } from '../generated/google/rpc/status_pb.js';
import type { XdsLogger, XdsNode, XdsResource } from '../cache/index.js';
import { invokeCallback, type StreamInfo } from './callbacks.js';
import { ResponseScheduler, type QueuedResponse } from './response-scheduler.js';
import type { ServerContext } from './server-context.js';
import type { Subscription } from './subscription.js';
import type { WatchSlot } from './watch-slot.js';

export interface StreamCall {
  write(bytes: Uint8Array): boolean;
  end(): void;
  emit(event: 'error', err: grpc.StatusObject | Error): boolean;
  getPeer(): string;
}

/** A response that could not be split under the size limit: the stream ends with RESOURCE_EXHAUSTED. */
export class ResponseTooLarge {
  constructor(readonly message: string) {}
}

/** What a stream keeps per type; SotW adds the client's version_info. */
export interface TypeState {
  sub: Subscription;
  watch: WatchSlot;
}

export abstract class StreamBase<T extends TypeState = TypeState> {
  readonly info: StreamInfo;
  protected readonly types = new Map<string, T>();
  protected readonly scheduler: ResponseScheduler;
  protected readonly log: XdsLogger;
  private closed = false;

  constructor(
    protected readonly ctx: ServerContext,
    protected readonly call: StreamCall,
    service: string,
    variant: 'sotw' | 'delta',
    /** Per-type services serve one type; ADS takes it from each request. */
    protected readonly fixedTypeUrl: string | undefined,
  ) {
    this.info = { id: ctx.nextStreamId(), service, variant, peer: safePeer(call), openedAt: new Date(), node: undefined };
    this.log = ctx.logger;
    this.scheduler = new ResponseScheduler((typeUrl, bytes, sent) => this.writeResponse(typeUrl, bytes, sent), fixedTypeUrl ? 0 : ctx.orderHoldMs);
    ctx.metrics.streams++;
    ctx.metrics.streamsOpened++;
    ctx.streams.add(this);
    invokeCallback(ctx.callbacks, ctx.logger, 'onStreamOpen', this.info);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The node of the stream: taken from the first request; later requests may omit it (xDS "node"). */
  protected nodeFrom(node: Node | undefined): XdsNode {
    if (!this.info.node) {
      this.info.node = { id: node?.id ?? '', cluster: node?.cluster ?? '', userAgentName: node?.userAgentName ?? '' };
      if (!node) this.log.warn({ stream: this.info.id }, 'xds: first request of the stream carries no node; serving it as node ""');
    }
    return this.info.node;
  }

  /** The type of a request, or undefined after failing the stream for a request the protocol forbids. */
  protected typeOf(requestTypeUrl: string): string | undefined {
    if (this.fixedTypeUrl) {
      if (requestTypeUrl !== '' && requestTypeUrl !== this.fixedTypeUrl) {
        this.fail(grpc.status.INVALID_ARGUMENT, `MESHD_ERR_XDS_BAD_REQUEST: type_url ${requestTypeUrl} on the ${this.info.service} service, which serves ${this.fixedTypeUrl}`);
        return undefined;
      }
      return this.fixedTypeUrl;
    }
    if (requestTypeUrl === '') {
      this.fail(grpc.status.INVALID_ARGUMENT, 'MESHD_ERR_XDS_BAD_REQUEST: an aggregated (ADS) request must carry type_url');
      return undefined;
    }
    return requestTypeUrl;
  }

  protected noteRequest(typeUrl: string, req: unknown): void {
    this.ctx.metrics.requests++;
    this.ctx.cache.recordRequest(this.info.node!.id);
    invokeCallback(this.ctx.callbacks, this.log, 'onStreamRequest', this.info, typeUrl, req);
  }

  /** A NACK is a request with error_detail, never inferred from versions (research/xds.md §1.2). */
  protected noteReply(typeUrl: string, sentVersion: string, clientVersion: string, errorDetail: Status | undefined): void {
    const nodeId = this.info.node!.id;
    if (errorDetail) {
      this.ctx.metrics.nacks++;
      this.ctx.cache.recordNack(nodeId, typeUrl, sentVersion, errorDetail.message);
      this.log.warn({ stream: this.info.id, node: nodeId, typeUrl, version: sentVersion, clientVersion, code: errorDetail.code, detail: errorDetail.message }, 'xds: NACK; the client keeps its last good version and it will not be resent');
      invokeCallback(this.ctx.callbacks, this.log, 'onNack', this.info, typeUrl, sentVersion, errorDetail);
    } else {
      this.ctx.metrics.acks++;
      this.ctx.cache.recordAck(nodeId, typeUrl, clientVersion || sentVersion);
      this.log.debug({ stream: this.info.id, node: nodeId, typeUrl, version: clientVersion || sentVersion }, 'xds: ACK');
      invokeCallback(this.ctx.callbacks, this.log, 'onAck', this.info, typeUrl, clientVersion || sentVersion);
    }
  }

  protected noteStale(typeUrl: string, nonce: string): void {
    this.ctx.metrics.staleRequests++;
    this.log.debug({ stream: this.info.id, typeUrl, nonce, latest: this.scheduler.lastNonce(typeUrl) }, 'xds: stale nonce; taken as a subscription update only');
  }

  /** Queues the responses of one push, or fails the stream when the push could not be split under the size limit. */
  protected queue(typeUrl: string, responses: QueuedResponse[] | ResponseTooLarge, summary: { version: string; resources: readonly XdsResource[] }): void {
    if (responses instanceof ResponseTooLarge) {
      this.ctx.metrics.oversizedResponses++;
      this.log.error({ stream: this.info.id, node: this.info.node?.id, typeUrl, version: summary.version, resources: summary.resources.length }, `xds: ${responses.message}`);
      this.fail(grpc.status.RESOURCE_EXHAUSTED, `MESHD_ERR_XDS_RESPONSE_TOO_LARGE: ${responses.message}`);
      return;
    }
    if (responses.length > 1) this.ctx.metrics.splitResponses++;
    this.ctx.cache.recordSent(this.info.node!.id, typeUrl, summary.version);
    this.scheduler.enqueue(typeUrl, responses);
  }

  private writeResponse(typeUrl: string, bytes: Uint8Array, sent: QueuedResponse & { nonce: string }): void {
    if (this.closed) return;
    this.ctx.metrics.responses++;
    this.ctx.metrics.responseBytes += bytes.byteLength;
    this.log.debug({ stream: this.info.id, node: this.info.node?.id, typeUrl, version: sent.version, nonce: sent.nonce, resources: sent.resourceNames.length, removed: sent.removed.length, bytes: bytes.byteLength }, 'xds: response');
    invokeCallback(this.ctx.callbacks, this.log, 'onStreamResponse', this.info, typeUrl, { nonce: sent.nonce, version: sent.version, resourceNames: sent.resourceNames, removed: sent.removed, bytes: bytes.byteLength });
    this.call.write(bytes);
  }

  /** Ends the stream with a status the client can read, not by crashing or hanging. */
  protected fail(code: grpc.status, details: string): void {
    if (this.closed) return;
    this.log.warn({ stream: this.info.id, node: this.info.node?.id, code, details }, 'xds: ending stream with an error');
    this.teardown();
    this.call.emit('error', { code, details, metadata: new grpc.Metadata() });
  }

  /** Server shutdown or client half-close: end our side cleanly. */
  end(): void {
    if (this.closed) return;
    this.teardown();
    try {
      this.call.end();
    } catch {
      // already ended by the transport
    }
  }

  /** The client went away. */
  onCancelled(): void {
    this.teardown();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.types.values()) t.watch.close();
    this.types.clear();
    this.scheduler.close();
    this.ctx.metrics.streams--;
    this.ctx.streams.delete(this);
    invokeCallback(this.ctx.callbacks, this.log, 'onStreamClosed', this.info);
  }
}

function safePeer(call: StreamCall): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}
