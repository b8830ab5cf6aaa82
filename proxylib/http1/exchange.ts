// One request/response exchange of an HTTP/1.1 downstream connection: the HCM decision, then either
// a local reply or forwarding over a pooled upstream connection, streaming both bodies with
// backpressure (a full write buffer on one side pauses reading on the other), then the flow record.
// Upgrades (WebSocket) and CONNECT hand over to a byte tunnel (tunnel.ts) once the upstream accepts them.
import type { HcmConfig } from '../config/types.js';
import { LAST_CHUNK, lastChunkWithTrailers, type BodyFraming as MessageFraming, type Http1RequestHead, type Http1ResponseHead, type Http1ParseError } from '../codec/index.js';
import { isFlowObserved, type FlowVerdict } from '../flow/index.js';
import { firstHeaderValue } from '../http/index.js';
import { LOCAL_REPLY_BODY, decideRequest, grpcStatusOfHttpStatus, mapLocalReply, upstreamPickFailureReply, type HeaderList, type HttpRequestHead, type RequestDecision } from '../hcm/index.js';
import type { CoarseTimer } from '../listener/index.js';
import type { PooledConnection, UpstreamConnectionHandler } from '../upstream/http1-pool.js';
import type { UpstreamTarget } from '../upstream/index.js';
import { hostOfAuthority } from '../upstream/index.js';
import { serializeDownstreamResponseHead, serializeLocalReply, serializeUpstreamRequestHead, writeChunkTo, type BodyFraming } from './heads.js';
import { httpFlowRecord } from './flow-record.js';
import type { OutputBatch } from './output-batch.js';
import type { Http1ServerConnection } from './server-connection.js';
import { Http1Tunnel } from './tunnel.js';
import { codecOf, type ResponseSink, type UpstreamCodec } from './upstream-codec.js';

/** Bytes of a refused request's body the proxy reads and drops to keep the connection; larger → close. */
const MAX_DISCARDED_BODY_BYTES = 64 * 1024;
const CONTINUE_100 = 'HTTP/1.1 100 Continue\r\n\r\n';

/** Safe methods whose request can be sent again on a fresh connection (Envoy retries only those on a dead reused connection). */
function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE';
}

export class Http1Exchange implements UpstreamConnectionHandler, ResponseSink {
  // Clock reads only when a flow record will be built (a subscriber that appears mid-request gets latency 0).
  private readonly startedAtMs = isFlowObserved() ? performance.now() : -1;
  private readonly startedAtWallMs = this.startedAtMs >= 0 ? Date.now() : -1;
  private decision: RequestDecision | undefined;
  private target: UpstreamTarget | undefined;
  private upstream: PooledConnection | undefined;
  private codec: UpstreamCodec | undefined;
  /** Request body pieces that arrived before the upstream connection was ready. */
  private buffered: Buffer[] | undefined;
  private bufferedTrailers: HeaderList | undefined;
  /** Request trailers that arrived after the upstream connection was ready. */
  private pendingTrailers: HeaderList | undefined;
  private upstreamHead = '';
  private requestHeaders: HeaderList;
  private readonly requestFraming: BodyFraming;
  private requestBodyBytes = 0;
  private isDiscardingBody = false;
  requestComplete = false;
  responseStarted = false;
  responseComplete = false;
  /** Response bytes (of any kind) seen from the upstream: a retry is only safe before the first. */
  private sawResponseBytes = false;
  private isRetried = false;
  private downstreamFraming: MessageFraming['kind'] = 'none';
  private responseTrailers: HeaderList | undefined;
  private upstreamKeepAlive = false;
  private status = 0;
  private grpcStatus: number | undefined;
  private routeTimer: CoarseTimer | undefined;
  private requestTimer: CoarseTimer | undefined;
  private flowReason: string | undefined;
  private verdict: FlowVerdict = 'FORWARDED';
  /** Upgrade / CONNECT accepted by the upstream: an Http1Tunnel now carries the bytes. */
  tunneling = false;
  private finished = false;
  /** Downstream writes of one upstream read, written at once. */
  private readonly out: OutputBatch;

  constructor(
    private readonly connection: Http1ServerConnection,
    readonly head: Http1RequestHead,
    private readonly hcm: HcmConfig,
  ) {
    this.out = connection.output;
    this.requestHeaders = head.headers;
    // The parser's request framing as is (no copy per request); a request is never close-delimited.
    this.requestFraming = head.framing.kind === 'close' ? { kind: 'none' } : head.framing;
  }

  private get socket() {
    return this.connection.socket;
  }

  // ---- request side -------------------------------------------------------------------------

  start(): void {
    const conn = this.connection.conn;
    const head = this.head;
    const hcm = this.hcm;
    if (head.version === 'HTTP/1.0') {
      // Envoy's http_protocol_options.accept_http_10 (off by default): HTTP/1.0 gets 426 and a close.
      if (hcm.acceptHttp10 === false) {
        this.verdict = 'DENIED';
        this.flowReason = 'http10_not_accepted';
        const mapped = mapLocalReply(hcm, 426, '');
        this.sendLocalReply(mapped.status, mapped.body, true);
        return;
      }
    }
    const request: HttpRequestHead = {
      method: head.method,
      target: head.target,
      authority: head.authority === '' && head.version === 'HTTP/1.0' ? (hcm.defaultHostForHttp10 ?? '') : head.authority,
      scheme: conn.scheme,
      headers: head.headers,
      version: head.version,
      upgrade: head.upgrade,
    };
    const decision = decideRequest(hcm, conn.routeTable(), request, conn.facts);
    // decideRequest may have dropped headers (headers_with_underscores_action DROP_HEADER).
    this.requestHeaders = request.headers;
    this.decision = decision;
    if (decision.kind === 'local_reply') {
      this.verdict = decision.reason === 'direct_response' ? 'FORWARDED' : 'DENIED';
      this.flowReason = decision.reason;
      this.sendLocalReply(decision.status, decision.body, false);
      return;
    }
    if (this.hcm.requestTimeoutMs > 0 && head.framing.kind !== 'none') {
      this.requestTimer = conn.clock.timeout(this.hcm.requestTimeoutMs, () => this.onRequestTimeout());
    }
    const picked = conn.clusters.pick(decision.cluster, {
      originalDestination: conn.originalDestination,
      host: hostOfAuthority(decision.authority),
      downstreamProtocol: 'http1',
    });
    if (!picked.ok) {
      const reply = upstreamPickFailureReply(decision.route, picked.reason);
      this.fail(reply.status, reply.body, picked.reason);
      return;
    }
    const target = picked.target;
    this.target = target;
    const action = decision.route.action;
    if (action.kind === 'route' && action.idleTimeoutMs > 0) {
      // The route's idle_timeout replaces the HCM's stream_idle_timeout for this stream.
      this.connection.routeIdleTimer = conn.clock.timeout(action.idleTimeoutMs, () => {
        this.connection.routeIdleTimer = undefined;
        this.connection.closeAfterResponse = true;
        this.onStreamIdleTimeout();
      });
    }
    if (conn.clusters.protocolOf(target, 'http1') !== 'http1') {
      // An HTTP/2-only cluster behind an HTTP/1.1 downstream needs h1→h2 bridging, which the
      // HTTP/1.1 path does not do; refuse clearly instead of speaking HTTP/1.1 to an h2 server.
      this.fail(503, LOCAL_REPLY_BODY.upstreamConnectFailure, 'upstream_protocol_unsupported');
      return;
    }
    const upgrade = decision.upgrade;
    this.upstreamHead = serializeUpstreamRequestHead({
      method: head.method,
      path: decision.path,
      authority: decision.authority,
      headers: this.requestHeaders,
      framing: this.requestFraming,
      upgrade: upgrade === 'connect' ? undefined : upgrade,
      upgradeHeader: upgrade === undefined || upgrade === 'connect' ? undefined : firstHeaderValue(head.headers, 'upgrade'),
      forwardedProto: hcm.useRemoteAddress ? conn.scheme : undefined,
      appendForwardedFor: hcm.useRemoteAddress && !hcm.skipXffAppend ? conn.facts.sourceIp : undefined,
      generateRequestId: hcm.generateRequestId ?? true,
      keepExpect: hcm.proxy100Continue === true,
    });
    // Envoy's default (proxy_100_continue off): the proxy answers 100 Continue itself and does not
    // forward Expect, so the client starts sending while the upstream connection is being set up.
    // With proxy_100_continue, Expect goes upstream and the upstream's 100 comes back.
    if (head.expectContinue && hcm.proxy100Continue !== true) this.socket.write(CONTINUE_100, 'latin1');
    this.acquireUpstream(upgrade !== undefined);
  }

  private acquireUpstream(fresh: boolean): void {
    const target = this.target!;
    const pool = this.connection.pool;
    const idle = fresh ? undefined : pool.acquireIdle(target, this);
    if (idle !== undefined) {
      this.onUpstreamReady(idle);
      return;
    }
    this.connection.pauseForConnect(true);
    pool.connect(target, this).then(
      (conn) => {
        this.connection.pauseForConnect(false);
        if (this.finished) {
          pool.discard(conn);
          return;
        }
        try {
          this.onUpstreamReady(conn);
        } catch (err) {
          pool.discard(conn);
          this.connection.onInternalError(err);
        }
      },
      (err: unknown) => {
        this.connection.pauseForConnect(false);
        if (this.finished) return;
        this.connection.conn.logger?.debug({ err, cluster: target.cluster.name }, 'upstream connect failed');
        this.fail(503, LOCAL_REPLY_BODY.upstreamConnectFailure, 'upstream_connect_failed');
      },
    );
  }

  private onUpstreamReady(conn: PooledConnection): void {
    this.upstream = conn;
    const codec = codecOf(conn);
    this.codec = codec;
    codec.exchange = this;
    codec.parser.expectResponse(this.head.method);
    const socket = conn.socket;
    const buffered = this.buffered;
    const ends = this.requestComplete && this.requestFraming.kind === 'chunked';
    if (buffered === undefined && !ends) {
      // The common case (a bodiless request, or a body still to come): one write, no cork.
      if (!socket.write(this.upstreamHead, 'latin1')) this.connection.pauseForUpstream(true);
      return;
    }
    this.buffered = undefined;
    socket.cork();
    let ok = socket.write(this.upstreamHead, 'latin1');
    if (buffered !== undefined) for (const piece of buffered) ok = this.writeBodyUpstream(piece);
    if (ends) ok = this.endBodyUpstream(this.bufferedTrailers);
    socket.uncork();
    if (!ok) this.connection.pauseForUpstream(true);
  }

  /** Request body bytes from the parser. */
  onRequestBody(chunk: Buffer): void {
    this.connection.refreshActivity();
    if (this.isDiscardingBody) return;
    if (this.finished || this.tunneling) return;
    this.requestBodyBytes += chunk.length;
    if (this.upstream === undefined) {
      (this.buffered ??= []).push(chunk);
      return;
    }
    if (!this.writeBodyUpstream(chunk)) this.connection.pauseForUpstream(true);
  }

  onRequestTrailers(trailers: HeaderList): void {
    if (this.upstream === undefined) this.bufferedTrailers = trailers;
    else this.pendingTrailers = trailers;
  }

  /** The request (head and body) has been received completely. */
  onRequestComplete(): void {
    this.requestComplete = true;
    this.requestTimer?.cancel();
    this.requestTimer = undefined;
    if (this.finished || this.isDiscardingBody || this.decision?.kind !== 'forward') return;
    if (this.upstream !== undefined && !this.tunneling) {
      if (!this.endBodyUpstream(this.pendingTrailers)) this.connection.pauseForUpstream(true);
    }
    // Envoy's route timeout runs from the end of the request to the end of the response.
    const timeoutMs = this.decision.timeoutMs;
    if (timeoutMs > 0 && !this.responseComplete && this.decision.upgrade === undefined) {
      this.routeTimer = this.connection.conn.clock.timeout(timeoutMs, () => this.onRouteTimeout());
    }
  }

  private writeBodyUpstream(chunk: Buffer): boolean {
    const socket = this.upstream!.socket;
    if (this.requestFraming.kind === 'chunked') return writeChunkTo(socket, chunk);
    return socket.write(chunk);
  }

  private endBodyUpstream(trailers: HeaderList | undefined): boolean {
    if (this.requestFraming.kind !== 'chunked') return true;
    const socket = this.upstream!.socket;
    return socket.write(trailers !== undefined && trailers.length > 0 ? lastChunkWithTrailers(trailers) : LAST_CHUNK, 'latin1');
  }

  // ---- upstream events ----------------------------------------------------------------------

  onUpstreamData(chunk: Buffer): void {
    try {
      this.handleUpstreamData(chunk);
    } catch (err) {
      const conn = this.upstream;
      this.upstream = undefined;
      if (conn !== undefined) this.connection.pool.discard(conn);
      this.connection.onInternalError(err);
    }
  }

  private handleUpstreamData(chunk: Buffer): void {
    this.connection.refreshActivity();
    const conn = this.upstream;
    this.sawResponseBytes = true;
    const codec = this.codec!;
    const out = this.out;
    out.begin();
    const consumed = codec.parser.execute(chunk);
    // Bytes after the 101 / 2xx head belong to the tunnel.
    if (this.tunneling && consumed < chunk.length) out.write(chunk.subarray(consumed));
    if (!out.flush()) conn?.socket.pause();
    // Bytes after a complete response mean the upstream speaks unasked: never reuse that connection.
    if (!this.tunneling && this.responseComplete && conn !== undefined) this.afterResponse(conn, consumed === chunk.length);
  }

  /**
   * The response is complete: give the upstream connection back (or close it) and let the
   * downstream connection move on. Runs after the response parser returned, never from inside its
   * callbacks: the next exchange may reuse this very connection and parser at once.
   */
  private afterResponse(conn: PooledConnection | undefined, isClean: boolean): void {
    this.upstream = undefined;
    if (this.codec && this.codec.exchange === this) this.codec.exchange = undefined;
    if (conn !== undefined) {
      if (isClean && this.upstreamKeepAlive && this.requestComplete && this.downstreamFraming !== 'close') this.connection.pool.release(conn);
      else this.connection.pool.discard(conn);
    }
    this.finish();
    this.connection.onExchangeDone(this);
  }

  onUpstreamDrain(): void {
    this.connection.pauseForUpstream(false);
  }

  /** The downstream socket drained: read the response from the upstream again. */
  resumeUpstreamReading(): void {
    this.upstream?.socket.resume();
  }

  onUpstreamClose(): void {
    const conn = this.upstream;
    this.upstream = undefined;
    if (this.finished || this.responseComplete) return;
    if (this.responseStarted) {
      if (this.codec?.parser.status === 'body') {
        // A close-delimited body ends here (the parser reports a truncated framed body as an error).
        this.codec.parser.finish();
        if (this.responseComplete) {
          this.afterResponse(undefined, false);
          return;
        }
      }
      this.flowReason = 'upstream_reset_after_response_started';
      this.verdict = 'ERROR';
      this.finish();
      this.connection.abort();
      return;
    }
    if (conn !== undefined && conn.reused && !this.sawResponseBytes && !this.isRetried && isSafeMethod(this.head.method) && this.requestFraming.kind === 'none') {
      // A keep-alive connection the upstream closed just as we reused it: send the request again on
      // a fresh connection, once (only safe, bodiless requests can be replayed).
      this.isRetried = true;
      this.codec = undefined;
      this.acquireUpstream(true);
      return;
    }
    this.fail(503, LOCAL_REPLY_BODY.upstreamReset, 'upstream_reset_before_response');
  }

  // ---- response side ------------------------------------------------------------------------

  onResponseHead(head: Http1ResponseHead): void {
    // 1xx other than 101: the proxy already answered 100 Continue itself (Envoy drops upstream 1xx
    // when proxy_100_continue is off).
    if (head.informational) {
      if (head.status === 100 && this.head.expectContinue && this.hcm.proxy100Continue === true) this.out.write(CONTINUE_100);
      return;
    }
    this.routeTimer?.cancel();
    const decision = this.decision;
    if (head.tunnel && decision?.kind === 'forward' && decision.upgrade !== undefined) {
      this.startTunnel(head);
      return;
    }
    this.responseStarted = true;
    this.status = head.status;
    this.upstreamKeepAlive = head.keepAlive;
    const connection = this.connection;
    // An upstream answering before the request was fully sent (or a refused upgrade) leaves the
    // downstream byte stream in an unknown place: close after this response.
    if (!this.requestComplete || this.head.upgrade !== undefined || this.head.method === 'CONNECT') connection.closeAfterResponse = true;
    let framing: MessageFraming;
    let contentLengthWithoutBody: string | undefined;
    switch (head.framing.kind) {
      case 'none': {
        framing = { kind: 'none' };
        const cl = firstHeaderValue(head.headers, 'content-length');
        const bodyless = head.status < 200 || head.status === 204 || head.status === 304;
        if (cl !== undefined && !bodyless) contentLengthWithoutBody = cl;
        else if (!bodyless && this.head.method !== 'HEAD') contentLengthWithoutBody = '0';
        break;
      }
      case 'length':
        framing = { kind: 'length', length: head.framing.length };
        break;
      default:
        // Chunked or close-delimited upstream bodies: chunked to an HTTP/1.1 client, close-delimited to HTTP/1.0.
        if (this.head.version === 'HTTP/1.1') framing = { kind: 'chunked' };
        else {
          framing = { kind: 'close' };
          connection.closeAfterResponse = true;
        }
    }
    this.downstreamFraming = framing.kind;
    if (this.decision?.isGrpc) {
      const gs = firstHeaderValue(head.headers, 'grpc-status');
      if (gs !== undefined) this.grpcStatus = Number(gs);
    }
    const headText = serializeDownstreamResponseHead({
      status: head.status,
      headers: head.headers,
      framing,
      contentLengthWithoutBody,
      connection: connection.closeAfterResponse ? 'close' : this.head.version === 'HTTP/1.0' ? 'keep-alive' : undefined,
      upgradeHeader: undefined,
      serverName: this.hcm.serverName,
      serverHeader: this.hcm.serverHeader ?? 'overwrite',
    });
    this.out.write(headText);
  }

  onResponseBody(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const out = this.out;
    if (this.downstreamFraming === 'chunked') {
      out.write(`${chunk.length.toString(16)}\r\n`);
      out.write(chunk);
      out.write('\r\n');
    } else out.write(chunk);
  }

  onResponseTrailers(trailers: HeaderList): void {
    this.responseTrailers = trailers;
    if (this.decision?.isGrpc) {
      const gs = firstHeaderValue(trailers, 'grpc-status');
      if (gs !== undefined) this.grpcStatus = Number(gs);
    }
  }

  onResponseComplete(): void {
    if (this.downstreamFraming === 'chunked') {
      const trailers = this.responseTrailers;
      this.out.write(trailers !== undefined ? lastChunkWithTrailers(trailers) : LAST_CHUNK);
    }
    this.responseComplete = true;
    this.routeTimer?.cancel();
  }

  onResponseError(error: Http1ParseError): void {
    this.connection.conn.logger?.debug({ err: error }, 'invalid upstream response');
    const conn = this.upstream;
    this.upstream = undefined;
    if (conn !== undefined) this.connection.pool.discard(conn);
    if (this.responseStarted) {
      this.flowReason = 'upstream_protocol_error';
      this.verdict = 'ERROR';
      this.finish();
      this.connection.abort();
      return;
    }
    // Envoy's router: an upstream protocol error before the response started is a 502.
    this.fail(502, 'upstream connect error or disconnect/reset before headers. reset reason: protocol error', 'upstream_protocol_error');
  }

  // ---- tunnels (WebSocket, CONNECT) ---------------------------------------------------------

  private startTunnel(head: Http1ResponseHead): void {
    const conn = this.upstream!;
    this.tunneling = true;
    this.responseStarted = true;
    this.status = head.status;
    this.connection.pool.detach(conn);
    const upgradeHeader = head.status === 101 ? (firstHeaderValue(head.headers, 'upgrade') ?? this.head.upgrade) : undefined;
    const text = serializeDownstreamResponseHead({
      status: head.status,
      headers: head.headers,
      framing: { kind: 'none' },
      contentLengthWithoutBody: undefined,
      connection: undefined,
      upgradeHeader,
      serverName: this.hcm.serverName,
      serverHeader: this.hcm.serverHeader ?? 'overwrite',
    });
    this.out.write(text);
    // The tunnel owns the upstream connection from here; bytes after the head in this read are
    // written by handleUpstreamData.
    this.upstream = undefined;
    this.connection.startTunnel(new Http1Tunnel(this.connection, conn, this));
  }

  /** The tunnel is over (either side closed): record it. */
  onTunnelClosed(): void {
    this.responseComplete = true;
    this.finish();
  }

  // ---- local replies, failures, timeouts ----------------------------------------------------

  private sendLocalReply(status: number, body: string, forceClose: boolean): void {
    const connection = this.connection;
    this.responseStarted = true;
    this.responseComplete = true;
    this.status = status;
    const head = this.head;
    if (this.decision?.isGrpc) this.grpcStatus = grpcStatusOfHttpStatus(status);
    if (!this.requestComplete && head.framing.kind !== 'none') {
      const small = head.framing.kind === 'length' && head.framing.length - this.requestBodyBytes <= MAX_DISCARDED_BODY_BYTES;
      // A client waiting for 100 Continue may never send the body; a big or chunked body is not
      // worth reading: answer and close (Envoy closes an HTTP/1.1 connection with a body left unread).
      if (!small || head.expectContinue || forceClose) connection.closeAfterResponse = true;
      else this.isDiscardingBody = true;
    }
    if (head.upgrade !== undefined || head.method === 'CONNECT' || forceClose) connection.closeAfterResponse = true;
    this.out.write(
      serializeLocalReply({
        status,
        body,
        isGrpc: this.decision?.isGrpc ?? false,
        isHead: head.method === 'HEAD',
        connection: connection.closeAfterResponse ? 'close' : head.version === 'HTTP/1.0' ? 'keep-alive' : undefined,
        hcm: this.hcm,
      }),
    );
    this.finish();
    connection.onExchangeDone(this);
  }

  /** A failure the proxy answers itself (mapped like every local reply), or a reset once the response started. */
  fail(status: number, body: string, reason: string): void {
    this.flowReason = reason;
    this.verdict = 'ERROR';
    this.routeTimer?.cancel();
    const conn = this.upstream;
    this.upstream = undefined;
    if (conn !== undefined) this.connection.pool.discard(conn);
    if (this.finished) return;
    if (this.responseStarted) {
      this.finish();
      this.connection.abort();
      return;
    }
    const mapped = mapLocalReply(this.hcm, status, body);
    this.sendLocalReply(mapped.status, mapped.body, this.upstreamHead !== '' && !this.requestComplete);
  }

  private onRouteTimeout(): void {
    this.routeTimer = undefined;
    if (this.finished || this.responseComplete) return;
    this.fail(504, LOCAL_REPLY_BODY.upstreamTimeout, 'upstream_timeout');
  }

  private onRequestTimeout(): void {
    this.requestTimer = undefined;
    if (this.finished || this.requestComplete) return;
    this.fail(408, LOCAL_REPLY_BODY.requestTimeout, 'request_timeout');
  }

  /** The stream idle timeout fired while this exchange was active. */
  onStreamIdleTimeout(): void {
    if (this.finished) return;
    if (this.tunneling) {
      this.flowReason = 'stream_idle_timeout';
      this.connection.abort();
      return;
    }
    this.fail(408, LOCAL_REPLY_BODY.streamIdleTimeout, 'stream_idle_timeout');
  }

  /** The downstream went away mid-exchange: cancel the upstream side. */
  onDownstreamClosed(): void {
    if (this.finished) return;
    const conn = this.upstream;
    this.upstream = undefined;
    if (conn !== undefined) this.connection.pool.discard(conn);
    if (!this.tunneling) {
      this.flowReason = 'downstream_reset';
      if (this.verdict === 'FORWARDED') this.verdict = 'ERROR';
    }
    this.finish();
  }

  /** Cancels timers and publishes the flow record; runs once. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.routeTimer?.cancel();
    this.requestTimer?.cancel();
    const routeIdle = this.connection.routeIdleTimer;
    if (routeIdle !== undefined) {
      routeIdle.cancel();
      this.connection.routeIdleTimer = undefined;
    }
    if (this.codec && this.codec.exchange === this) this.codec.exchange = undefined;
    if (isFlowObserved()) this.publishFlow();
  }

  private publishFlow(): void {
    const conn = this.connection.conn;
    conn.publishFlow(
      httpFlowRecord(conn, {
        startedAtWallMs: this.startedAtWallMs,
        startedAtMs: this.startedAtMs,
        head: this.head,
        decision: this.decision,
        verdict: this.verdict,
        reason: this.flowReason,
        status: this.status,
        grpcStatus: this.grpcStatus,
        target: this.target,
      }),
    );
  }
}
