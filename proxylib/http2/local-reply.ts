// Answers the proxy sends itself on an HTTP/2 stream: RBAC denials, no route, upstream failures,
// timeouts. The HCM's local reply rules (mappers, Envoy's bodies, the gRPC trailers-only mapping)
// live in proxylib/hcm and are shared with HTTP/1.1; this file only writes them on a stream. Every
// write is guarded: the client may have reset the stream at any moment before (perf.md §2b:
// respond() on a reset stream threw ERR_HTTP2_INVALID_STREAM and crashed a Node h2 proxy under load).
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { HcmConfig } from '../config/types.js';
import { grpcLocalReplyHeaders, grpcStatusOfHttpStatus } from '../hcm/index.js';
import { applyServerHeader } from './http2-headers.js';

export interface SentLocalReply {
  /** :status sent (200 for a gRPC trailers-only reply). */
  status: number;
  /** The grpc-status sent, undefined for a plain HTTP reply. */
  grpcStatus: number | undefined;
}

/** True while the stream can still take a response (not reset, not closed, nothing sent yet). */
export function canRespond(stream: ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed && !stream.headersSent;
}

/**
 * Sends an (already mapped) local reply and ends the stream: for gRPC a trailers-only response (one
 * HEADERS frame with END_STREAM), otherwise the status with a text/plain body. A request body still
 * arriving is read and dropped so flow control never stalls the connection. Returns what was sent,
 * or undefined when the stream could no longer take a response.
 */
export function sendLocalReply(stream: ServerHttp2Stream, hcm: HcmConfig, status: number, body: string, isGrpc: boolean, isHead: boolean): SentLocalReply | undefined {
  if (!canRespond(stream)) return undefined;
  let sent: SentLocalReply;
  try {
    if (isGrpc) {
      const headers: OutgoingHttpHeaders = { ':status': 200 };
      for (const [name, value] of grpcLocalReplyHeaders(status, body)) headers[name] = value;
      applyServerHeader(headers, hcm);
      stream.respond(headers, { endStream: true });
      sent = { status: 200, grpcStatus: grpcStatusOfHttpStatus(status) };
    } else {
      const bytes = Buffer.from(body, 'utf8');
      const headers: OutgoingHttpHeaders = { ':status': status, 'content-length': String(bytes.length) };
      if (bytes.length > 0) headers['content-type'] = 'text/plain';
      applyServerHeader(headers, hcm);
      if (bytes.length === 0 || isHead) stream.respond(headers, { endStream: true });
      else {
        stream.respond(headers);
        stream.end(bytes);
      }
      sent = { status, grpcStatus: undefined };
    }
  } catch {
    // Reset between the check and the write: nothing reached the client.
    return undefined;
  }
  if (!stream.readableEnded) stream.resume();
  return sent;
}
