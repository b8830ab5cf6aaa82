// One downstream HTTP/2 stream through the proxy: decide (normalize → RBAC → route), then either a
// local reply or a stream on a pooled upstream session, with bodies piped both ways (backpressure
// comes from the streams' flow-control windows), trailers both ways, and resets propagated both ways:
// a downstream RST_STREAM cancels the upstream stream (RST_STREAM CANCEL), an upstream reset becomes a
// 503 when nothing was sent downstream yet (Envoy's "reset before headers"), otherwise a downstream
// RST_STREAM. Each response write checks the downstream stream first: the client may reset it at any
// moment (perf.md §2b).
import http2 from 'node:http2';
import type { ClientHttp2Stream, Http2Stream, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { HcmConfig } from '../config/types.js';
import { isFlowObserved } from '../flow/index.js';
import type { FlowVerdict, HttpFlowRecord } from '../flow/index.js';
import { LOCAL_REPLY_BODY, mapLocalReply, upstreamPickFailureReply } from '../hcm/index.js';
import { ProxyError } from '../errors.js';
import { hostOfAuthority, type Http1Pool } from '../upstream/index.js';
import type { DecideRequest, HeaderList, HttpRequestHead, RequestDecision } from '../hcm/index.js';
import type { CoarseTimer, DownstreamConnection } from '../listener/index.js';
import { applyServerHeader, downstreamHeaders, grpcStatusOf, http1RequestFields, http1TrailerFields, http2Fields, upstreamRequestHeaders } from './http2-headers.js';
import { Http1UpstreamExchange } from './http1-upstream.js';
import type { Http1UpstreamRequestHead } from './http1-upstream.js';
import type { Http2SessionPool } from './http2-session-pool.js';
import { canRespond, sendLocalReply } from './local-reply.js';

/** Envoy's local reply bodies for an upstream stream reset before any response header. */
const UPSTREAM_RESET_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: remote reset';
const UPSTREAM_REFUSED_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;


export interface StreamContext {
  readonly conn: DownstreamConnection;
  readonly decideRequest: DecideRequest;
  readonly pool: Http2SessionPool;
  /** Keep-alive pool for clusters whose upstream protocol is HTTP/1.1. */
  readonly http1Pool: Http1Pool;
}

/**
 * Moves a body from one stream to the other with backpressure: a full write buffer pauses the
 * source until 'drain'. Hand-rolled instead of Readable.pipe(), which registers seven listeners per
 * pipe; here each stream end is settled by the 'close' handlers, which reset the other side.
 */
function relay(from: Http2Stream, to: Http2Stream, onActivity: () => void): void {
  const resume = (): void => {
    from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    onActivity();
    if (!to.write(chunk) && !to.destroyed) {
      from.pause();
      to.once('drain', resume);
    }
  });
  from.once('end', () => {
    if (!to.destroyed && !to.writableEnded) to.end();
  });
}

/** Regular headers of the request (pseudo-headers excluded), in arrival order, repeats kept. */
function headerListOf(rawHeaders: readonly string[]): HeaderList {
  const list: HeaderList = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.charCodeAt(0) === 0x3a /* ':' */) continue;
    list.push([name, rawHeaders[i + 1] as string]);
  }
  return list;
}

/** Handles one downstream stream end to end. Never throws. */
export function proxyHttp2Stream(
  ctx: StreamContext,
  hcm: HcmConfig,
  down: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  rawHeaders: readonly string[],
): void {
  const { conn } = ctx;
  const startedAtMs = Date.now();
  const method = (headers[':method'] as string | undefined) ?? '';
  const authority = (headers[':authority'] as string | undefined) ?? (headers.host as string | undefined) ?? '';
  const schemeHeader = headers[':scheme'];
  const head: HttpRequestHead = {
    method,
    target: (headers[':path'] as string | undefined) ?? '',
    authority,
    scheme: schemeHeader === 'https' || schemeHeader === 'http' ? schemeHeader : conn.scheme,
    headers: headerListOf(rawHeaders),
    version: 'HTTP/2',
    // RFC 8441 extended CONNECT names the protocol in :protocol (e.g. websocket).
    upgrade: typeof headers[':protocol'] === 'string' ? (headers[':protocol'] as string).toLowerCase() : undefined,
  };

  // ---- per-stream state, read by the flow record ----
  let status = 0;
  let grpcStatus: number | undefined;
  let verdict: FlowVerdict = 'FORWARDED';
  let reason: string | undefined;
  let policy: string | undefined;
  let matchedPath = head.target;
  let isGrpc = false;
  let upstreamInfo: HttpFlowRecord['upstream'];
  /** Set once an upstream exchange exists: resets it (HTTP/2: RST_STREAM CANCEL; HTTP/1.1: the connection is discarded). */
  let cancelUpstream: (() => void) | undefined;
  let upstreamResponseEnded = false;
  let cancelled = false;
  let routeTimer: CoarseTimer | undefined;
  let idleTimer: CoarseTimer | undefined;

  const stopTimers = (): void => {
    routeTimer?.cancel();
    idleTimer?.cancel();
    routeTimer = idleTimer = undefined;
  };

  const localReply = (httpStatus: number, body: string, why: string, v: FlowVerdict, mapped: boolean): void => {
    verdict = v;
    reason = why;
    const reply = mapped ? { status: httpStatus, body } : mapLocalReply(hcm, httpStatus, body);
    const sent = sendLocalReply(down, hcm, reply.status, reply.body, isGrpc, method === 'HEAD');
    if (sent !== undefined) {
      status = sent.status;
      grpcStatus = sent.grpcStatus;
    }
  };

  // An error event on either stream is always followed by 'close', where the outcome is settled.
  down.on('error', () => {});

  down.once('close', () => {
    stopTimers();
    cancelled = true;
    // The client reset (or the connection died) before the exchange finished: tell the upstream.
    if (!upstreamResponseEnded) cancelUpstream?.();
    if (verdict === 'FORWARDED' && !upstreamResponseEnded && status === 0) {
      verdict = 'ERROR';
      reason ??= 'downstream_reset';
    }
    if (isFlowObserved()) publish();
  });

  const publish = (): void => {
    const record: HttpFlowRecord = {
      type: 'http',
      time: new Date(startedAtMs).toISOString(),
      source: { ip: conn.facts.sourceIp, port: conn.facts.sourcePort, identity: conn.sourceIdentity },
      destination: { ip: conn.facts.destinationIp, port: conn.facts.destinationPort, identity: conn.destinationIdentity },
      listener: conn.listenerName,
      filterChain: conn.filterChainName,
      verdict,
      policy,
      reason,
      latencyMs: Date.now() - startedAtMs,
      protocol: isGrpc ? 'grpc' : 'http',
      http: { version: 'HTTP/2', method, path: matchedPath, host: authority, status, grpcStatus },
      upstream: upstreamInfo,
    };
    conn.publishFlow(record);
  };

  let decision: RequestDecision;
  try {
    decision = ctx.decideRequest(hcm, conn.routeTable(), head, conn.facts);
  } catch (err) {
    conn.logger?.error({ err, path: head.target }, 'decideRequest threw');
    localReply(500, 'internal error\r\n', 'internal_error', 'ERROR', false);
    return;
  }
  isGrpc = decision.isGrpc;
  policy = decision.policy;
  matchedPath = decision.matchedPath;

  if (decision.kind === 'local_reply') {
    const v: FlowVerdict = decision.reason === 'rbac_denied' ? 'DENIED' : decision.reason === 'direct_response' ? 'FORWARDED' : 'ERROR';
    localReply(decision.status, decision.body, decision.reason, v, true);
    return;
  }

  if (method === 'CONNECT') {
    // Allowed by the HCM and RBAC, but tunnels over HTTP/2 (RFC 9113 §8.5 CONNECT, RFC 8441 extended
    // CONNECT) are not implemented here: answered, never forwarded as if they were ordinary requests.
    localReply(501, "CONNECT over HTTP/2 is not implemented by meshd's built-in proxy", 'connect_not_implemented', 'ERROR', false);
    return;
  }

  const pick = conn.clusters.pick(decision.cluster, {
    originalDestination: conn.originalDestination,
    host: hostOfAuthority(decision.authority),
    downstreamProtocol: 'http2',
  });
  if (!pick.ok) {
    const reply = upstreamPickFailureReply(decision.route, pick.reason);
    localReply(reply.status, reply.body, pick.reason, 'ERROR', false);
    return;
  }
  const target = pick.target;
  upstreamInfo = { cluster: decision.cluster, address: target.address, port: target.port };
  const upstreamProtocol = conn.clusters.protocolOf(target, 'http2');
  // As the HTTP/1.1 path does: with use_remote_address the proxy is the edge and sets
  // x-forwarded-proto itself; x-forwarded-for gets the peer unless skip_xff_append.
  const forwardingOptions = {
    forwardedProto: hcm.useRemoteAddress ? conn.scheme : undefined,
    appendForwardedFor: hcm.useRemoteAddress && !hcm.skipXffAppend ? conn.facts.sourceIp : undefined,
    generateRequestId: hcm.generateRequestId ?? true,
  };
  const requestHasBody = !down.endAfterHeaders;

  // ---- timers: stream idle (any activity refreshes), route timeout (from the end of the request) ----
  // The route's idle_timeout overrides the HCM's stream_idle_timeout (-1 = unset, 0 = disabled).
  const routeIdleMs = decision.route.action.kind === 'route' ? decision.route.action.idleTimeoutMs : -1;
  idleTimer = conn.clock.timeout(routeIdleMs >= 0 ? routeIdleMs : hcm.streamIdleTimeoutMs, () => {
    idleTimer = undefined;
    onTimeout(408, LOCAL_REPLY_BODY.streamIdleTimeout, 'stream_idle_timeout');
  });
  const armRouteTimer = (): void => {
    if (decision.timeoutMs > 0 && !upstreamResponseEnded) {
      routeTimer = conn.clock.timeout(decision.timeoutMs, () => {
        routeTimer = undefined;
        onTimeout(504, LOCAL_REPLY_BODY.upstreamTimeout, 'upstream_timeout');
      });
    }
  };
  const onTimeout = (httpStatus: number, body: string, why: string): void => {
    cancelUpstream?.();
    if (canRespond(down)) localReply(httpStatus, body, why, 'ERROR', false);
    else if (!down.closed && !down.destroyed) {
      verdict = 'ERROR';
      reason = why;
      down.close(NGHTTP2_INTERNAL_ERROR);
    }
  };
  if (!requestHasBody) armRouteTimer();
  else down.once('end', armRouteTimer);

  let requestTrailers: IncomingHttpHeaders | undefined;
  down.once('trailers', (t: IncomingHttpHeaders) => {
    requestTrailers = t;
  });

  if (upstreamProtocol === 'http1') {
    forwardToHttp1(decision);
    return;
  }

  const outHeaders = upstreamRequestHeaders({
    method,
    scheme: target.cluster.upstreamTls !== undefined ? 'https' : 'http',
    authority: decision.authority,
    path: decision.path,
    headers: head.headers,
    ...forwardingOptions,
  });

  // A stream the upstream refused (REFUSED_STREAM: it never processed it, e.g. after its GOAWAY) is
  // retried once on another session when it carried no body, as Envoy retries refused streams.
  let refusedRetried = false;
  const openUpstream = (): void => {
    ctx.pool
      .openStream(conn.clusters, target, outHeaders, {
        endStream: !requestHasBody,
        waitForTrailers: requestHasBody,
        isCancelled: () => cancelled || down.destroyed || down.closed,
      })
      .then(
        (stream) => {
          if (stream === undefined) return; // downstream went away while connecting
          cancelUpstream = () => {
            if (!stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
          };
          wireUpstream(stream);
        },
        (err: Error & { code?: string }) => {
          if (down.closed || down.destroyed) return;
          if (err instanceof ProxyError) {
            conn.logger?.debug({ err, cluster: decision.cluster }, 'upstream HTTP/2 connect failed');
            localReply(503, LOCAL_REPLY_BODY.upstreamConnectFailure, 'upstream_connect_failed', 'ERROR', false);
          } else {
            // node:http2 refused the header block (a value it cannot encode): the request is malformed.
            conn.logger?.debug({ err, cluster: decision.cluster }, 'upstream HTTP/2 request refused');
            localReply(400, LOCAL_REPLY_BODY.badPath, 'bad_request', 'ERROR', false);
          }
        },
      );
  };
  openUpstream();

  /** HTTP/2 downstream → HTTP/1.1 upstream (the cluster's protocol is HTTP/1.1). */
  function forwardToHttp1(forward: Extract<RequestDecision, { kind: 'forward' }>): void {
    const clientLength = head.headers.find(([n]) => n === 'content-length')?.[1];
    const framing: Http1UpstreamRequestHead['framing'] = !requestHasBody
      ? { kind: 'none' }
      : clientLength !== undefined && /^[0-9]{1,15}$/.test(clientLength)
        ? { kind: 'length', length: Number(clientLength) }
        : { kind: 'chunked' };
    let responseTrailers: HeaderList | undefined;
    let responseHasBody = false;
    const exchange = new Http1UpstreamExchange(
      ctx.http1Pool,
      target,
      {
        method,
        path: forward.path,
        authority: forward.authority,
        headers: http1RequestFields(head.headers, forwardingOptions),
        framing,
      },
      {
        onInformational(code, fields) {
          if (code === 100 || down.closed || down.destroyed || down.headersSent) return;
          try {
            down.additionalHeaders({ ...http2Fields(fields), ':status': code });
          } catch {
            // Reset meanwhile.
          }
        },
        onResponseHead(code, fields, hasBody) {
          idleTimer?.refresh();
          if (!canRespond(down)) {
            exchange.cancel();
            return;
          }
          status = code;
          responseHasBody = hasBody;
          const block = { ...http2Fields(fields), ':status': code };
          applyServerHeader(block, hcm);
          try {
            if (!hasBody) down.respond(block, { endStream: true });
            else {
              down.respond(block, { waitForTrailers: true });
              down.once('wantTrailers', () => {
                try {
                  down.sendTrailers(responseTrailers ? http2Fields(responseTrailers) : {});
                } catch {
                  // The client reset meanwhile.
                }
              });
            }
          } catch {
            exchange.cancel();
          }
        },
        onResponseBody(chunk) {
          idleTimer?.refresh();
          if (down.closed || down.destroyed) return true;
          const ok = down.write(chunk);
          if (!ok) down.once('drain', () => exchange.resumeResponse());
          return ok;
        },
        onResponseTrailers(trailers) {
          responseTrailers = trailers;
          grpcStatus = grpcStatusOf(Object.fromEntries(trailers));
        },
        onResponseComplete() {
          upstreamResponseEnded = true;
          routeTimer?.cancel();
          routeTimer = undefined;
          if (responseHasBody && !down.closed && !down.destroyed) down.end();
          // A request body the upstream no longer reads is drained and dropped.
          if (requestHasBody && !down.readableEnded) down.resume();
        },
        onFailure(why, err, responseStarted) {
          if (down.closed || down.destroyed) return;
          conn.logger?.debug({ err, cluster: forward.cluster }, `HTTP/1.1 upstream failed: ${why}`);
          if (!responseStarted && canRespond(down)) {
            if (why === 'connect_failed') localReply(503, LOCAL_REPLY_BODY.upstreamConnectFailure, 'upstream_connect_failed', 'ERROR', false);
            else if (why === 'bad_response') localReply(502, '', 'upstream_bad_response', 'ERROR', false);
            else localReply(503, LOCAL_REPLY_BODY.upstreamReset, 'upstream_reset_before_response', 'ERROR', false);
          } else {
            verdict = 'ERROR';
            reason = why === 'bad_response' ? 'upstream_bad_response' : 'upstream_reset_after_response_started';
            down.close(NGHTTP2_INTERNAL_ERROR);
          }
        },
      },
    );
    cancelUpstream = () => exchange.cancel();
    if (requestHasBody) {
      down.on('data', (chunk: Buffer) => {
        idleTimer?.refresh();
        if (!exchange.writeBody(chunk, () => down.resume())) down.pause();
      });
      down.once('end', () => exchange.endBody(requestTrailers ? http1TrailerFields(requestTrailers) : undefined));
    }
    exchange.start();
  }

  const wireUpstream = (stream: ClientHttp2Stream): void => {
    stream.on('error', () => {});

    // Request body and trailers → upstream.
    if (requestHasBody) {
      stream.once('wantTrailers', () => {
        try {
          // An empty block ends the stream with an empty DATA frame (END_STREAM), not a HEADERS frame.
          stream.sendTrailers(requestTrailers ? downstreamHeaders(requestTrailers, false) : {});
        } catch {
          // The upstream stream was reset meanwhile; its 'close' handles the outcome.
        }
      });
      relay(down, stream, () => idleTimer?.refresh());
    }

    // 1xx (other than 101, which HTTP/2 forbids) are forwarded as informational HEADERS.
    stream.on('headers', (h: IncomingHttpHeaders) => {
      const code = Number(h[':status']);
      if (code >= 100 && code < 200 && code !== 101 && !down.closed && !down.destroyed && !down.headersSent) {
        try {
          down.additionalHeaders(downstreamHeaders(h, true));
        } catch {
          // Reset meanwhile.
        }
      }
    });

    let responseTrailers: IncomingHttpHeaders | undefined;
    stream.once('trailers', (t: IncomingHttpHeaders) => {
      responseTrailers = t;
      grpcStatus = grpcStatusOf(t);
    });

    stream.once('response', (h: IncomingHttpHeaders, flags: number) => {
      idleTimer?.refresh();
      if (!canRespond(down)) {
        stream.close(NGHTTP2_CANCEL);
        return;
      }
      status = Number(h[':status']) || 0;
      const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      const responseHeaders = downstreamHeaders(h, true);
      applyServerHeader(responseHeaders, hcm);
      try {
        if (endStream) {
          // Trailers-only (gRPC errors) or an empty response: one HEADERS frame with END_STREAM.
          grpcStatus = grpcStatusOf(h);
          down.respond(responseHeaders, { endStream: true });
          stream.resume();
          return;
        }
        down.respond(responseHeaders, { waitForTrailers: true });
      } catch {
        stream.close(NGHTTP2_CANCEL);
        return;
      }
      down.once('wantTrailers', () => {
        try {
          down.sendTrailers(responseTrailers ? downstreamHeaders(responseTrailers, false) : {});
        } catch {
          // The client reset meanwhile.
        }
      });
      relay(stream, down, () => idleTimer?.refresh());
    });

    stream.once('end', () => {
      upstreamResponseEnded = true;
      routeTimer?.cancel();
      routeTimer = undefined;
    });

    stream.once('close', () => {
      if (upstreamResponseEnded) {
        // The response is complete. A request body the upstream no longer reads is drained and dropped.
        if (requestHasBody && !down.readableEnded) {
          down.removeAllListeners('data');
          down.on('data', () => {});
          down.resume();
        }
        return;
      }
      if (down.closed || down.destroyed) return; // the downstream side started this
      const code = stream.rstCode;
      if (code === NGHTTP2_REFUSED_STREAM && !requestHasBody && !refusedRetried && canRespond(down)) {
        refusedRetried = true;
        openUpstream();
        return;
      }
      if (canRespond(down)) {
        const why = code === NGHTTP2_REFUSED_STREAM ? 'upstream_refused_stream' : 'upstream_reset_before_response';
        localReply(503, code === NGHTTP2_REFUSED_STREAM ? UPSTREAM_REFUSED_BODY : UPSTREAM_RESET_BODY, why, 'ERROR', false);
      } else {
        verdict = 'ERROR';
        reason = 'upstream_reset_after_response_started';
        down.close(code === NGHTTP2_NO_ERROR || code === undefined ? NGHTTP2_INTERNAL_ERROR : code);
      }
    });
  };
}
