// Hooks for logging and metrics, kept out of the protocol code (go-control-plane's Callbacks). A
// throwing callback is logged and otherwise ignored: observers must not change what clients receive.
import type { Status } from '../generated/google/rpc/status_pb.js';
import type { XdsLogger, XdsNode } from '../cache/index.js';

export interface StreamInfo {
  /** Unique within the server's lifetime. */
  id: number;
  /** 'ads', or the per-type service ('listeners', 'routes', 'clusters', 'endpoints', 'secrets'). */
  service: string;
  variant: 'sotw' | 'delta';
  peer: string;
  openedAt: Date;
  /** From the first request of the stream (later requests may omit it). */
  node: XdsNode | undefined;
}

/** What went out, without decoding the pre-encoded bytes again. */
export interface ResponseSummary {
  nonce: string;
  version: string;
  resourceNames: string[];
  removed: string[];
  bytes: number;
}

export interface XdsServerCallbacks {
  onStreamOpen?(s: StreamInfo): void;
  onStreamRequest?(s: StreamInfo, typeUrl: string, req: unknown): void;
  onStreamResponse?(s: StreamInfo, typeUrl: string, resp: ResponseSummary): void;
  onNack?(s: StreamInfo, typeUrl: string, version: string, errorDetail: Status): void;
  onAck?(s: StreamInfo, typeUrl: string, version: string): void;
  onStreamClosed?(s: StreamInfo): void;
}

export interface XdsServerMetrics {
  /** Streams open now. */
  streams: number;
  streamsOpened: number;
  requests: number;
  acks: number;
  nacks: number;
  /** Requests whose response_nonce was not the latest sent for the type (taken as subscription updates only). */
  staleRequests: number;
  responses: number;
  responseBytes: number;
  /** Pushes that needed more than one response to stay under the message size limit. */
  splitResponses: number;
  /** Pushes refused because they could not be split under the limit (the stream is ended). */
  oversizedResponses: number;
}

export function newMetrics(): XdsServerMetrics {
  return { streams: 0, streamsOpened: 0, requests: 0, acks: 0, nacks: 0, staleRequests: 0, responses: 0, responseBytes: 0, splitResponses: 0, oversizedResponses: 0 };
}

type Hook = keyof XdsServerCallbacks;

export function invokeCallback<K extends Hook>(callbacks: XdsServerCallbacks, logger: XdsLogger, hook: K, ...args: Parameters<NonNullable<XdsServerCallbacks[K]>>): void {
  const fn = callbacks[hook] as ((...a: unknown[]) => void) | undefined;
  if (!fn) return;
  try {
    fn.apply(callbacks, args);
  } catch (err) {
    logger.warn({ hook, err }, 'xds: callback threw; ignored');
  }
}
