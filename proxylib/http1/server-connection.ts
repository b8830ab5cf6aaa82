// One downstream HTTP/1.1 (or 1.0) connection on a raw socket: A's strict RequestParser, requests
// handled one at a time in arrival order (pipelined requests wait, unparsed, until the response
// before them is complete — Envoy's HTTP/1.1 codec does the same), keep-alive, `Connection: close`,
// timeouts on the shared coarse clock, drain, and the hand-over to a byte tunnel after an accepted
// Upgrade or CONNECT.
import type { Socket } from 'node:net';
import { DEFAULT_HTTP1_LIMITS, RequestParser, http1LimitsFromHcm, type Http1ParseError, type Http1RequestHead, type RequestHandler } from '../codec/index.js';
import { isFlowObserved, type HttpFlowRecord } from '../flow/index.js';
import { LOCAL_REPLY_BODY, mapLocalReply, type HeaderList } from '../hcm/index.js';
import type { CoarseTimer, DownstreamConnection } from '../listener/index.js';
import type { Http1Pool } from '../upstream/http1-pool.js';
import { Http1Exchange } from './exchange.js';
import { serializeLocalReply } from './heads.js';
import { OutputBatch } from './output-batch.js';
import type { Http1Tunnel } from './tunnel.js';

/** Why reading from the downstream socket is paused (a bit each; reading resumes when none is left). */
const PAUSED_PIPELINE = 1;
const PAUSED_UPSTREAM = 2;
const PAUSED_CONNECT = 4;
const PAUSED_TUNNEL = 8;

/** Pipelined bytes held (unparsed) while a response is pending; beyond this the socket is paused. */
const MAX_PIPELINED_BYTES = 64 * 1024;
/** How long a closing connection keeps reading (and dropping) before it is destroyed. */
const DELAYED_CLOSE_MS = 1000;

export class Http1ServerConnection implements RequestHandler {
  readonly socket: Socket;
  /** Batches the downstream writes of one upstream read (one per connection, reused). */
  readonly output: OutputBatch;
  private readonly parser: RequestParser;
  /** The exchange whose request is being received or whose response is awaited. */
  private current: Http1Exchange | undefined;
  /** Bytes received after a complete request, kept unparsed until its response is complete. */
  private pending: Buffer | undefined;
  /** The parser stopped after a complete request; `pending` holds what followed it. */
  private isBlocked = false;
  private isInParser = false;
  private pauseMask = 0;
  /** Answer the current request with `connection: close` and end the connection after it. */
  closeAfterResponse = false;
  private isClosed = false;
  private isDraining = false;
  private tunnel: Http1Tunnel | undefined;
  private headersTimer: CoarseTimer | undefined;
  private streamIdleTimer: CoarseTimer | undefined;
  private idleTimer: CoarseTimer | undefined;
  private durationTimer: CoarseTimer | undefined;
  /** destroySoon()'s delayed close (DELAYED_CLOSE_MS). */
  private closeTimer: CoarseTimer | undefined;
  /** A route's idle_timeout, overriding stream_idle_timeout for the current exchange. */
  routeIdleTimer: CoarseTimer | undefined;
  private readonly streamIdleTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly headersTimeoutMs: number;

  constructor(
    readonly conn: DownstreamConnection,
    readonly pool: Http1Pool,
  ) {
    this.socket = conn.socket;
    this.output = new OutputBatch(conn.socket);
    const hcm = conn.hcm();
    this.parser = new RequestParser(hcm ? http1LimitsFromHcm(hcm) : DEFAULT_HTTP1_LIMITS, this);
    this.streamIdleTimeoutMs = hcm?.streamIdleTimeoutMs ?? 0;
    this.idleTimeoutMs = hcm?.idleTimeoutMs ?? 0;
    this.headersTimeoutMs = hcm?.requestHeadersTimeoutMs ?? 0;
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.onData(chunk);
      } catch (err) {
        this.onInternalError(err);
      }
    });
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onClose());
    socket.on('error', () => this.onClose());
    socket.on('drain', () => this.tunnel?.resumeUpstreamReading() ?? this.current?.resumeUpstreamReading());
    conn.onDrain(() => this.onDrain());
    this.armIdleTimer();
    // max_connection_duration: past it the connection drains (finish the current exchange, then close).
    const maxDurationMs = hcm?.maxConnectionDurationMs ?? 0;
    if (maxDurationMs > 0) this.durationTimer = conn.clock.timeout(maxDurationMs, () => this.onDrain());
    if (hcm === undefined) {
      this.destroy();
      return;
    }
    socket.resume();
  }

  // ---- downstream bytes -----------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.isClosed) return;
    const tunnel = this.tunnel;
    if (tunnel !== undefined) {
      this.refreshActivity();
      if (!tunnel.writeUpstream(chunk)) this.pause(PAUSED_TUNNEL);
      return;
    }
    if (this.isBlocked) {
      this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.pending.length > MAX_PIPELINED_BYTES) this.pause(PAUSED_PIPELINE);
      return;
    }
    this.feed(chunk);
  }

  private feed(chunk: Buffer): void {
    if (this.current === undefined && this.headersTimeoutMs > 0 && this.headersTimer === undefined) {
      this.headersTimer = this.conn.clock.timeout(this.headersTimeoutMs, () => this.onHeadersTimeout());
    }
    this.refreshActivity();
    this.isInParser = true;
    let consumed: number;
    try {
      consumed = this.parser.execute(chunk);
    } finally {
      this.isInParser = false;
    }
    if (this.isClosed) return;
    const status = this.parser.status;
    if (status === 'tunnel') {
      // The rest belongs to the upgraded stream (forwarded once the upstream accepts the upgrade).
      if (consumed < chunk.length) this.pending = chunk.subarray(consumed);
      this.isBlocked = true;
      return;
    }
    if (status === 'closed' || status === 'failed') return;
    if (consumed < chunk.length) {
      if (this.isBlocked) {
        this.pending = this.pending === undefined ? chunk.subarray(consumed) : Buffer.concat([chunk.subarray(consumed), this.pending]);
        if (this.pending.length > MAX_PIPELINED_BYTES) this.pause(PAUSED_PIPELINE);
      } else {
        // The parser paused for another reason: keep the rest for later.
        this.pending = chunk.subarray(consumed);
        this.isBlocked = true;
      }
    }
  }

  private onEnd(): void {
    if (this.isClosed) return;
    if (this.tunnel !== undefined) {
      this.tunnel.endUpstream();
      return;
    }
    // As Envoy (no half-close on HTTP connections): the client's FIN ends the connection and
    // resets an exchange still in flight, which cancels its upstream side.
    if (this.current === undefined) this.destroy();
    else this.abort();
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.clearTimers();
    const exchange = this.tunnel ?? this.current;
    this.tunnel = undefined;
    this.current = undefined;
    exchange?.onDownstreamClosed();
    if (!this.socket.destroyed) this.socket.destroy();
  }

  // ---- parser callbacks (RequestHandler) ------------------------------------------------------

  onHead(head: Http1RequestHead): void {
    this.headersTimer?.cancel();
    this.headersTimer = undefined;
    const hcm = this.conn.hcm();
    if (hcm === undefined) {
      // The filter chain is gone (config update): this connection only drains; no new request.
      this.destroy();
      return;
    }
    if (!head.keepAlive || this.isDraining || this.conn.draining) this.closeAfterResponse = true;
    const exchange = new Http1Exchange(this, head, hcm);
    this.current = exchange;
    this.armStreamIdleTimer();
    exchange.start();
  }

  onBody(chunk: Buffer): void {
    this.current?.onRequestBody(chunk);
  }

  onTrailers(trailers: HeaderList): void {
    this.current?.onRequestTrailers(trailers);
  }

  onMessageComplete(): boolean {
    const exchange = this.current;
    if (exchange === undefined) return true;
    exchange.onRequestComplete();
    if (this.isClosed) return true;
    if (exchange.responseComplete && !exchange.tunneling) {
      this.current = undefined;
      this.afterExchange();
      // Keep parsing pipelined requests in this chunk unless the connection ends here.
      return this.isClosed || this.closeAfterResponse;
    }
    this.isBlocked = true;
    return true;
  }

  onError(error: Http1ParseError): void {
    this.headersTimer?.cancel();
    this.headersTimer = undefined;
    const exchange = this.current;
    this.closeAfterResponse = true;
    if (exchange !== undefined) {
      // A body that broke its framing mid-way: the upstream got a truncated request.
      exchange.fail(error.status, '', 'bad_request');
      this.destroySoon();
      return;
    }
    const hcm = this.conn.hcm();
    const mapped = mapLocalReply(hcm, error.status, '');
    this.socket.write(serializeLocalReply({ status: mapped.status, body: mapped.body, isGrpc: false, isHead: false, connection: 'close', hcm }));
    this.publishBadRequest(error, mapped.status);
    this.destroySoon();
  }

  // ---- exchange life cycle ---------------------------------------------------------------------

  /** The exchange's response is complete (or it answered locally). */
  onExchangeDone(exchange: Http1Exchange): void {
    if (exchange !== this.current) return;
    if (!exchange.requestComplete) {
      // Still receiving a request body (being discarded after a local reply), unless closing.
      if (this.closeAfterResponse) this.destroySoon();
      return;
    }
    this.current = undefined;
    this.afterExchange();
    if (this.isClosed || this.isInParser) return;
    this.isBlocked = false;
    this.resume(PAUSED_PIPELINE);
    const pending = this.pending;
    if (pending !== undefined) {
      this.pending = undefined;
      this.feed(pending);
    }
  }

  private afterExchange(): void {
    // The stream idle timer is left running (refreshed when the next exchange starts; if it fires
    // in between it finds no exchange and lapses): re-creating it per request would cost more.
    this.idleTimer?.refresh();
    this.resume(PAUSED_UPSTREAM);
    this.resume(PAUSED_CONNECT);
    if (this.closeAfterResponse) this.destroySoon();
  }

  startTunnel(tunnel: Http1Tunnel): void {
    this.tunnel = tunnel;
    this.current = undefined;
    this.isBlocked = false;
    const early = this.pending;
    this.pending = undefined;
    if (early !== undefined && !tunnel.writeUpstream(early)) this.pause(PAUSED_TUNNEL);
    this.resume(PAUSED_PIPELINE);
  }

  /** The upstream side of the tunnel closed: finish the downstream side too. */
  endTunnel(tunnel: Http1Tunnel, isReset: boolean): void {
    if (this.tunnel !== tunnel) return;
    tunnel.close();
    this.tunnel = undefined;
    if (isReset) this.destroy();
    else this.destroySoon();
  }

  // ---- flow control ------------------------------------------------------------------------------

  pauseForUpstream(isPaused: boolean): void {
    if (isPaused) this.pause(PAUSED_UPSTREAM);
    else if (this.tunnel !== undefined) this.resume(PAUSED_TUNNEL);
    else this.resume(PAUSED_UPSTREAM);
  }

  pauseForConnect(isPaused: boolean): void {
    if (isPaused) this.pause(PAUSED_CONNECT);
    else this.resume(PAUSED_CONNECT);
  }

  private pause(reason: number): void {
    if (this.pauseMask === 0 && !this.isClosed) this.socket.pause();
    this.pauseMask |= reason;
  }

  private resume(reason: number): void {
    if ((this.pauseMask & reason) === 0) return;
    this.pauseMask &= ~reason;
    if (this.pauseMask === 0 && !this.isClosed) this.socket.resume();
  }

  // ---- timeouts ------------------------------------------------------------------------------------

  /** Any byte in either direction of the active exchange. */
  refreshActivity(): void {
    this.streamIdleTimer?.refresh();
    this.routeIdleTimer?.refresh();
  }

  private armStreamIdleTimer(): void {
    if (this.streamIdleTimeoutMs <= 0) return;
    if (this.streamIdleTimer === undefined) {
      this.streamIdleTimer = this.conn.clock.timeout(this.streamIdleTimeoutMs, () => {
        this.streamIdleTimer = undefined;
        // A route idle_timeout in force replaces this one.
        if (this.routeIdleTimer === undefined) this.onStreamIdleTimeout();
      });
    }
    else this.streamIdleTimer.refresh();
  }

  private onStreamIdleTimeout(): void {
    const exchange = this.tunnel ?? this.current;
    if (exchange === undefined) return;
    this.closeAfterResponse = true;
    exchange.onStreamIdleTimeout();
  }

  private armIdleTimer(): void {
    if (this.idleTimeoutMs <= 0) return;
    this.idleTimer = this.conn.clock.timeout(this.idleTimeoutMs, () => this.onIdleTimeout());
  }

  /** Envoy's idle_timeout: no active request for that long → close the connection. */
  private onIdleTimeout(): void {
    this.idleTimer = undefined;
    if (this.isClosed) return;
    if (this.current !== undefined || this.tunnel !== undefined) {
      this.armIdleTimer();
      return;
    }
    this.destroySoon();
  }

  private onHeadersTimeout(): void {
    this.headersTimer = undefined;
    if (this.isClosed || this.current !== undefined) return;
    const hcm = this.conn.hcm();
    const mapped = mapLocalReply(hcm, 408, LOCAL_REPLY_BODY.requestHeaderTimeout);
    this.socket.write(serializeLocalReply({ status: mapped.status, body: mapped.body, isGrpc: false, isHead: false, connection: 'close', hcm }));
    this.destroySoon();
  }

  private clearTimers(): void {
    this.headersTimer?.cancel();
    this.streamIdleTimer?.cancel();
    this.idleTimer?.cancel();
    this.durationTimer?.cancel();
    this.routeIdleTimer?.cancel();
    this.headersTimer = this.streamIdleTimer = this.idleTimer = this.durationTimer = this.routeIdleTimer = undefined;
  }

  // ---- drain and close -------------------------------------------------------------------------------

  private onDrain(): void {
    this.isDraining = true;
    this.closeAfterResponse = true;
    if (this.current === undefined && this.tunnel === undefined && this.parser.idle) this.destroySoon();
  }

  /**
   * Ends the connection gracefully: our FIN goes out after the written response, and what the peer
   * still sends is read and dropped for a moment (Envoy's delayed_close_timeout, 1 s) — closing
   * with unread bytes in the receive buffer would send an RST that can destroy the response in
   * flight to the client.
   */
  private destroySoon(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.clearTimers();
    const exchange = this.current;
    this.current = undefined;
    if (exchange !== undefined && !exchange.responseComplete) exchange.onDownstreamClosed();
    const socket = this.socket;
    // A response being collected from an upstream read goes out before the FIN.
    this.output.flush();
    socket.end();
    socket.resume();
    this.closeTimer = this.conn.clock.timeout(DELAYED_CLOSE_MS, () => socket.destroy());
    socket.once('close', () => this.closeTimer?.cancel());
  }

  /**
   * A bug in the data path must cost one connection, not the process (and every other connection
   * with it): log it and reset this connection.
   */
  onInternalError(err: unknown): void {
    this.conn.logger?.error({ err }, 'internal error in the HTTP/1.1 data path; connection reset');
    this.output.flush();
    this.abort();
  }

  /** Reset: the peer sees the connection cut (mid-response failures, as Envoy resets the stream). */
  abort(): void {
    if (this.socket.destroyed) return;
    const wasClosed = this.isClosed;
    this.isClosed = true;
    this.clearTimers();
    const exchange = this.current ?? this.tunnel;
    this.current = this.tunnel = undefined;
    if (!wasClosed) exchange?.onDownstreamClosed();
    try {
      this.socket.resetAndDestroy();
    } catch {
      // TLS sockets cannot send an RST (resetAndDestroy wants a TCP handle): close them plainly.
      this.socket.destroy();
    }
  }

  private destroy(): void {
    this.isClosed = true;
    this.clearTimers();
    this.closeTimer?.cancel();
    this.socket.destroy();
  }

  private publishBadRequest(error: Http1ParseError, status: number): void {
    if (!isFlowObserved()) return;
    const conn = this.conn;
    const facts = conn.facts;
    const record: HttpFlowRecord = {
      type: 'http',
      time: new Date().toISOString(),
      source: { ip: facts.sourceIp, port: facts.sourcePort, identity: conn.sourceIdentity },
      destination: { ip: facts.destinationIp, port: facts.destinationPort, identity: conn.destinationIdentity },
      listener: conn.listenerName,
      filterChain: conn.filterChainName,
      verdict: 'DENIED',
      policy: undefined,
      reason: `bad_request:${error.reason}`,
      latencyMs: 0,
      protocol: 'http',
      http: { version: 'HTTP/1.1', method: '', path: '', host: '', status },
      upstream: undefined,
    };
    conn.publishFlow(record);
  }
}
