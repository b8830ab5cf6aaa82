// An HTTP/2 downstream stream forwarded to an HTTP/1.1 upstream (a cluster without HTTP/2 protocol
// options: Envoy's default upstream protocol is HTTP/1.1). Uses the cluster layer's keep-alive pool
// (Http1Pool: connecting, idling, reuse limits) and proxylib/codec's strict response parser and head
// serializer, so the upstream only ever sees framing meshd wrote: a request body is sent with the
// client's Content-Length when it gave one, else chunked (then request trailers travel in the last
// chunk; with a Content-Length they are dropped, as HTTP/1.1 cannot carry them).
//
// The pool here is separate from the HTTP/1.1 handler's: a pooled connection keeps its response
// parser as its attachment, and the two data paths keep different ones.
import { DEFAULT_HTTP1_LIMITS, CHUNK_END, LAST_CHUNK, ResponseParser, chunkHeader, lastChunkWithTrailers, serializeRequestHead } from '../codec/index.js';
import type { Http1ParseError, Http1ResponseHead, ResponseHandler } from '../codec/index.js';
import type { HeaderList } from '../hcm/index.js';
import type { Http1Pool, PooledConnection, UpstreamConnectionHandler, UpstreamTarget } from '../upstream/index.js';

export interface Http1UpstreamEvents {
  /** A 1xx (other than 101) arrived before the final response. */
  onInformational(status: number, headers: HeaderList): void;
  /** The final response head; `hasBody` false → onComplete follows without body. */
  onResponseHead(status: number, headers: HeaderList, hasBody: boolean): void;
  /** Body bytes (de-chunked). Return false to pause the upstream until `resumeResponse()`. */
  onResponseBody(chunk: Buffer): boolean;
  onResponseTrailers(trailers: HeaderList): void;
  onResponseComplete(): void;
  /** The exchange failed; `responseStarted` tells whether onResponseHead was called. */
  onFailure(reason: 'connect_failed' | 'upstream_reset' | 'bad_response', error: Error | undefined, responseStarted: boolean): void;
}

export interface Http1UpstreamRequestHead {
  method: string;
  path: string;
  authority: string;
  /** Fields to send (connection-specific fields already removed), without framing fields. */
  headers: HeaderList;
  /** Request body framing: none (no body), the client's Content-Length, or chunked. */
  framing: { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };
}

/** Connection-specific response fields (RFC 9110 §7.6.1) never copied to an HTTP/2 response. */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/** Response fields of an HTTP/1.1 head that may go into an HTTP/2 block (also those named by Connection). */
export function forwardableResponseFields(headers: HeaderList): HeaderList {
  const named = new Set<string>();
  for (const [name, value] of headers) {
    if (name === 'connection') for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  return headers.filter(([name]) => !HOP_BY_HOP.has(name) && !named.has(name));
}

/** Request body bytes buffered while the upstream connection is being opened. */
const MAX_PENDING_BYTES = 256 * 1024;

function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'TRACE';
}

/** One response parser per pooled connection, pointed at the exchange currently using it. */
class ConnectionCodec implements ResponseHandler {
  readonly parser = new ResponseParser(DEFAULT_HTTP1_LIMITS, this);
  exchange: Http1UpstreamExchange | undefined;
  onHead(head: Http1ResponseHead): void {
    this.exchange?.onHead(head);
  }
  onBody(chunk: Buffer): void {
    this.exchange?.onBody(chunk);
  }
  onTrailers(trailers: HeaderList): void {
    this.exchange?.onTrailers(trailers);
  }
  onMessageComplete(): boolean {
    this.exchange?.onComplete();
    return true;
  }
  onError(error: Http1ParseError): void {
    this.exchange?.onParseError(error);
  }
}

export class Http1UpstreamExchange implements UpstreamConnectionHandler {
  private conn: PooledConnection | undefined;
  private codec: ConnectionCodec | undefined;
  private responseStarted = false;
  private responseComplete = false;
  private requestComplete = false;
  private receivedAny = false;
  private done = false;
  private retried = false;
  private keepAlive = false;
  /** Body bytes written before a connection existed (bounded by MAX_PENDING_BYTES). */
  private readonly pending: Array<string | Buffer> = [];
  private pendingBytes = 0;
  private onRequestDrain: (() => void) | undefined;

  constructor(
    private readonly pool: Http1Pool,
    private readonly target: UpstreamTarget,
    private readonly head: Http1UpstreamRequestHead,
    private readonly events: Http1UpstreamEvents,
  ) {
    this.requestComplete = head.framing.kind === 'none';
  }

  /** Takes an idle connection or opens one, then writes the head (and whatever body is pending). */
  start(): void {
    const idle = this.pool.acquireIdle(this.target, this);
    if (idle !== undefined) {
      this.attach(idle);
      return;
    }
    this.pool.connect(this.target, this).then(
      (conn) => {
        if (this.done) {
          this.pool.discard(conn);
          return;
        }
        this.attach(conn);
      },
      (err: Error) => this.fail('connect_failed', err),
    );
  }

  /** Writes request body bytes; false → wait for `onDrain` before writing more. */
  writeBody(chunk: Buffer, onDrain: () => void): boolean {
    if (this.done || chunk.length === 0) return true;
    const framed: Array<string | Buffer> = this.head.framing.kind === 'chunked' ? [chunkHeader(chunk.length), chunk, CHUNK_END] : [chunk];
    if (this.conn === undefined) {
      // Still connecting: buffer a bounded amount, then hold the client back until the head is out.
      this.pending.push(...framed);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < MAX_PENDING_BYTES) return true;
      this.onRequestDrain = onDrain;
      return false;
    }
    let ok = true;
    for (const part of framed) ok = this.conn.socket.write(part) && ok;
    if (!ok) this.onRequestDrain = onDrain;
    return ok;
  }

  /** The request body ended (with trailers, forwarded when the body is chunked). */
  endBody(trailers: HeaderList | undefined): void {
    if (this.done) return;
    this.requestComplete = true;
    if (this.head.framing.kind !== 'chunked') return;
    const last = trailers !== undefined && trailers.length > 0 ? lastChunkWithTrailers(trailers) : LAST_CHUNK;
    if (this.conn === undefined) this.pending.push(last);
    else this.conn.socket.write(last);
  }

  /** Resumes reading the upstream after onResponseBody returned false. */
  resumeResponse(): void {
    if (this.conn !== undefined && !this.conn.closed) this.conn.socket.resume();
  }

  /** The downstream went away (or a timeout hit): the connection cannot be reused mid-exchange. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    if (this.conn !== undefined) {
      if (this.codec) this.codec.exchange = undefined;
      this.pool.discard(this.conn);
    }
  }

  private attach(conn: PooledConnection): void {
    this.conn = conn;
    let codec = conn.attachment as ConnectionCodec | undefined;
    if (codec === undefined) {
      codec = new ConnectionCodec();
      conn.attachment = codec;
    }
    this.codec = codec;
    codec.exchange = this;
    codec.parser.expectResponse(this.head.method);
    const fields: HeaderList = [['host', this.head.authority], ...this.head.headers];
    if (this.head.framing.kind === 'length') fields.push(['content-length', String(this.head.framing.length)]);
    else if (this.head.framing.kind === 'chunked') fields.push(['transfer-encoding', 'chunked']);
    let headText: string;
    try {
      headText = serializeRequestHead({ method: this.head.method, target: this.head.path, headers: fields });
    } catch (err) {
      this.fail('bad_response', err as Error);
      return;
    }
    let writable = conn.socket.write(headText);
    for (const part of this.pending) writable = conn.socket.write(part) && writable;
    // Only bodyless requests are ever retried, so what was buffered is not needed again.
    this.pending.length = 0;
    this.pendingBytes = 0;
    if (writable) this.onUpstreamDrain();
    if (conn.socket.isPaused()) conn.socket.resume();
  }

  // ---- UpstreamConnectionHandler ----

  onUpstreamData(chunk: Buffer): void {
    if (this.done || this.codec === undefined || this.conn === undefined) return;
    this.receivedAny = true;
    const consumed = this.codec.parser.execute(chunk);
    if (this.responseComplete && consumed < chunk.length) {
      // Bytes after the response: the connection is not safe to reuse.
      this.keepAlive = false;
    }
    if (this.responseComplete) this.finish();
  }

  onUpstreamDrain(): void {
    const cb = this.onRequestDrain;
    this.onRequestDrain = undefined;
    cb?.();
  }

  onUpstreamClose(error: Error | undefined): void {
    if (this.done) return;
    if (this.codec !== undefined && !this.responseComplete && this.responseStarted) {
      // A close-delimited body ends with the connection.
      this.codec.parser.finish();
      if (this.responseComplete) {
        this.finish();
        return;
      }
    }
    const conn = this.conn;
    // Envoy retries a request that died on a reused connection before any response byte (safe methods only).
    if (!this.receivedAny && !this.retried && conn !== undefined && conn.reused && isSafeMethod(this.head.method) && this.head.framing.kind === 'none') {
      this.retried = true;
      this.conn = undefined;
      if (this.codec) this.codec.exchange = undefined;
      this.codec = undefined;
      this.pool.connect(this.target, this).then(
        (c) => (this.done ? this.pool.discard(c) : this.attach(c)),
        (err: Error) => this.fail('connect_failed', err),
      );
      return;
    }
    this.fail('upstream_reset', error);
  }

  // ---- from the response parser ----

  onHead(head: Http1ResponseHead): void {
    if (head.informational) {
      this.events.onInformational(head.status, forwardableResponseFields(head.headers));
      return;
    }
    if (head.tunnel) {
      // meshd never asks an HTTP/1.1 upstream to switch protocols for an HTTP/2 stream.
      this.fail('bad_response', new Error(`unexpected ${head.status} tunnel response`));
      return;
    }
    this.responseStarted = true;
    this.keepAlive = head.keepAlive;
    this.events.onResponseHead(head.status, forwardableResponseFields(head.headers), head.framing.kind !== 'none');
  }

  onBody(chunk: Buffer): void {
    if (this.done) return;
    if (!this.events.onResponseBody(chunk)) this.conn?.socket.pause();
  }

  onTrailers(trailers: HeaderList): void {
    this.events.onResponseTrailers(trailers);
  }

  onComplete(): void {
    this.responseComplete = true;
  }

  onParseError(error: Http1ParseError): void {
    this.fail('bad_response', error);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    const conn = this.conn;
    if (this.codec) this.codec.exchange = undefined;
    if (conn !== undefined) {
      // Reusable only when the upstream keeps it alive and the whole request was written.
      if (this.keepAlive && this.requestComplete) this.pool.release(conn);
      else this.pool.discard(conn);
    }
    this.events.onResponseComplete();
  }

  private fail(reason: 'connect_failed' | 'upstream_reset' | 'bad_response', error: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    if (this.codec) this.codec.exchange = undefined;
    if (this.conn !== undefined) this.pool.discard(this.conn);
    this.events.onFailure(reason, error, this.responseStarted);
  }
}
