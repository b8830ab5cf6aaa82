// The state machine both HTTP/1.1 parsers share: head → body (Content-Length, chunked or
// close-delimited) → message complete, over chunks of any size, with strict chunked framing.
// Subclasses (RequestParser, ResponseParser) parse the head block and decide the framing.
import type { HeaderList } from '../../hcm/types.js';
import { TOKEN_CHAR } from '../../http/index.js';
import { Http1ParseError } from './errors.js';
import type { Http1Limits } from './limits.js';
import { CR, HTAB, LF, LineBlockScanner, SP, parseFieldLines } from './lines.js';

export type BodyFraming =
  /** No body (no Content-Length / Transfer-Encoding on a request; HEAD, 1xx, 204, 304 responses). */
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** Responses only: the body runs until the connection closes (call finish() at EOF). */
  | { kind: 'close' };

export interface BodyCallbacks {
  /**
   * Body bytes, de-chunked. The buffer is a view into the chunk given to execute() (no copy): valid
   * as long as that chunk is, which for socket 'data' chunks is forever; do not mutate it.
   */
  onBody(chunk: Buffer): void;
  /** Trailer fields of a chunked body (only when there are some); lower-case names. */
  onTrailers?(trailers: HeaderList): void;
  /** The message ended. Return true to make execute() return right here (pipelining, backpressure). */
  onMessageComplete(): boolean | void;
  /** Called once; the parser is dead afterwards (execute() returns 0). */
  onError(error: Http1ParseError): void;
}

/** What a subclass decided about a head. */
export interface HeadDecision {
  framing: BodyFraming;
  /** After this message: parse the next one, hand the connection over (upgrade/CONNECT), or stop (not keep-alive). */
  after: 'next' | 'tunnel' | 'closed';
}

// States (plain numbers: const enums do not survive isolatedModules across files).
const HEAD = 0;
const BODY_LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_CR = 4;
const CHUNK_DATA_LF = 5;
const TRAILERS = 6;
const BODY_CLOSE = 7;
const TUNNEL = 8;
const CLOSED = 9;
const FAILED = 10;

export type ParserState = 'head' | 'body' | 'tunnel' | 'closed' | 'failed';

export abstract class MessageParser {
  private state = HEAD;
  private remaining = 0;
  private paused = false;
  private after: HeadDecision['after'] = 'next';
  private readonly headScanner: LineBlockScanner;
  private readonly trailerScanner: LineBlockScanner;
  private readonly chunkLineScanner: LineBlockScanner;

  protected constructor(
    protected readonly limits: Http1Limits,
    private readonly callbacks: BodyCallbacks,
    skipLeadingEmptyLines: boolean,
  ) {
    this.headScanner = new LineBlockScanner('block', limits.maxHeaderBytes, 'HPE_HEADER_OVERFLOW', skipLeadingEmptyLines);
    this.trailerScanner = new LineBlockScanner('block', limits.maxHeaderBytes, 'HPE_HEADER_OVERFLOW', false);
    this.chunkLineScanner = new LineBlockScanner('line', limits.maxChunkLineBytes, 'HPE_CHUNK_EXTENSIONS_OVERFLOW', false);
  }

  /**
   * Parses a complete head block (start line … empty line), calls the handler's onHead, and returns
   * the framing; 'informational' for a 1xx response that is followed by another head.
   */
  protected abstract onHeadBlock(block: Buffer, offset: number): HeadDecision | 'informational' | Http1ParseError;

  /** Checked before the first byte of a head (the response parser needs an expected request). */
  protected beforeHead(_offset: number): Http1ParseError | undefined {
    return undefined;
  }

  /** Called when a message completed and the parser goes back to waiting for a head. */
  protected onIdle(): void {}

  /** Where the parser is: between/in heads, in a body, handed over, closed, or failed. */
  get status(): ParserState {
    switch (this.state) {
      case HEAD:
        return 'head';
      case TUNNEL:
        return 'tunnel';
      case CLOSED:
        return 'closed';
      case FAILED:
        return 'failed';
      default:
        return 'body';
    }
  }

  /** True when no byte of a next message has been received (a clean place for the peer to close). */
  get idle(): boolean {
    return this.state === HEAD && this.headScanner.heldBytes === 0;
  }

  /** From inside a callback: make execute() return after the current callback. */
  pause(): void {
    this.paused = true;
  }

  /**
   * Back to waiting for a head, whatever the state (e.g. after an upgrade the proxy refused).
   * A failed parser stays failed: the byte stream is not trustworthy any more.
   */
  reset(): void {
    if (this.state === FAILED) return;
    this.state = HEAD;
    this.remaining = 0;
    this.after = 'next';
    this.headScanner.reset();
    this.trailerScanner.reset();
    this.chunkLineScanner.reset();
  }

  /**
   * Feeds bytes; returns how many were consumed. Fewer than chunk.length when a callback paused (or
   * onMessageComplete returned true), when a message handed the connection over (upgrade, CONNECT:
   * the rest belongs to the tunnel), when the connection is done (a non-keep-alive message
   * completed: the rest is ignored), or on error. Unconsumed bytes are the caller's to re-feed.
   */
  execute(chunk: Buffer): number {
    if (this.state >= TUNNEL) return 0;
    this.paused = false;
    const n = chunk.length;
    let pos = 0;
    while (pos < n && !this.paused) {
      switch (this.state) {
        case HEAD: {
          if (this.headScanner.heldBytes === 0) {
            const refused = this.beforeHead(pos);
            if (refused) return this.fail(refused, pos);
          }
          const r = this.headScanner.scan(chunk, pos);
          if (r.kind === 'more') return n;
          if (r.kind === 'error') return this.fail(r.error, pos);
          const decision = this.onHeadBlock(r.block, r.end - r.block.length);
          if (decision instanceof Http1ParseError) return this.fail(decision, pos);
          pos = r.end;
          if (decision === 'informational') continue;
          this.after = decision.after;
          const f = decision.framing;
          if (f.kind === 'none' || (f.kind === 'length' && f.length === 0)) this.complete();
          else if (f.kind === 'length') {
            this.state = BODY_LENGTH;
            this.remaining = f.length;
          } else if (f.kind === 'chunked') this.state = CHUNK_SIZE;
          else this.state = BODY_CLOSE;
          if (this.state >= TUNNEL) return pos;
          break;
        }
        case BODY_LENGTH:
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, n - pos);
          this.remaining -= take;
          const data = chunk.subarray(pos, pos + take);
          pos += take;
          const lengthDone = this.remaining === 0 && this.state === BODY_LENGTH;
          if (this.remaining === 0 && this.state === CHUNK_DATA) this.state = CHUNK_DATA_CR;
          this.callbacks.onBody(data);
          if (lengthDone) {
            this.complete();
            if (this.state >= TUNNEL) return pos;
          }
          break;
        }
        case CHUNK_DATA_CR:
          if (chunk[pos] !== CR) return this.fail(new Http1ParseError('HPE_STRICT', pos, 'expected CR after chunk data'), pos);
          pos++;
          this.state = CHUNK_DATA_LF;
          break;
        case CHUNK_DATA_LF:
          if (chunk[pos] !== LF) return this.fail(new Http1ParseError('HPE_STRICT', pos, 'expected LF after chunk data'), pos);
          pos++;
          this.state = CHUNK_SIZE;
          break;
        case CHUNK_SIZE: {
          const r = this.chunkLineScanner.scan(chunk, pos);
          if (r.kind === 'more') return n;
          if (r.kind === 'error') return this.fail(r.error, pos);
          const size = parseChunkSizeLine(r.block, pos);
          if (size instanceof Http1ParseError) return this.fail(size, pos);
          pos = r.end;
          if (size === 0) this.state = TRAILERS;
          else {
            this.state = CHUNK_DATA;
            this.remaining = size;
          }
          break;
        }
        case TRAILERS: {
          const r = this.trailerScanner.scan(chunk, pos);
          if (r.kind === 'more') return n;
          if (r.kind === 'error') return this.fail(r.error, pos);
          const fields = parseFieldLines(r.block, r.block.toString('latin1'), 0, this.limits.maxHeaderCount, r.end - r.block.length);
          if (fields instanceof Http1ParseError) return this.fail(fields, pos);
          pos = r.end;
          if (fields.headers.length > 0) this.callbacks.onTrailers?.(fields.headers);
          this.complete();
          if (this.state >= TUNNEL) return pos;
          break;
        }
        case BODY_CLOSE: {
          const data = pos === 0 ? chunk : chunk.subarray(pos);
          pos = n;
          this.callbacks.onBody(data);
          break;
        }
        default:
          return pos;
      }
    }
    return pos;
  }

  /**
   * The peer closed its side. Completes a close-delimited body; reports HPE_INVALID_EOF_STATE when
   * a message was cut short (a truncated head or body); nothing when the parser was idle.
   */
  finish(): void {
    if (this.state === BODY_CLOSE) {
      this.after = 'closed';
      this.complete();
      return;
    }
    if (this.state >= TUNNEL) return;
    if (this.idle) {
      this.state = CLOSED;
      return;
    }
    this.fail(new Http1ParseError('HPE_INVALID_EOF_STATE', 0), 0);
  }

  private complete(): void {
    const after = this.after;
    this.state = after === 'next' ? HEAD : after === 'tunnel' ? TUNNEL : CLOSED;
    this.remaining = 0;
    if (this.callbacks.onMessageComplete() === true) this.paused = true;
    if (this.state === HEAD) this.onIdle();
  }

  /** The status every error of this parser carries instead of the reason's own (502 for responses: the upstream is at fault). */
  protected errorStatus(): number | undefined {
    return undefined;
  }

  private fail(error: Http1ParseError, pos: number): number {
    this.state = FAILED;
    const status = this.errorStatus();
    this.callbacks.onError(status === undefined || status === error.status ? error : new Http1ParseError(error.reason, error.offset, error.detail, status));
    return pos;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1;
}

/**
 * `1*HEXDIG [ chunk-ext ] CRLF`, as llhttp's strict mode: no whitespace anywhere outside a quoted
 * string (not after the size, not around ';' or '='), no sign, no "0x", at most 2^53-1. chunk-ext is
 * `*( ";" token [ "=" ( token / quoted-string ) ] )`. Extensions are validated and ignored.
 */
export function parseChunkSizeLine(line: Buffer, offset: number): number | Http1ParseError {
  const end = line.length - 2; // CRLF
  let i = 0;
  let size = 0;
  while (i < end) {
    const d = hexDigit(line[i]!);
    if (d < 0) break;
    size = size * 16 + d;
    if (size > Number.MAX_SAFE_INTEGER) return new Http1ParseError('HPE_INVALID_CHUNK_SIZE', offset + i, 'overflow');
    i++;
  }
  if (i === 0) return new Http1ParseError('HPE_INVALID_CHUNK_SIZE', offset);
  if (i === end) return size;
  if (line[i] !== 0x3b /* ';' */) return new Http1ParseError('HPE_INVALID_CHUNK_SIZE', offset + i);
  while (i < end) {
    if (line[i] !== 0x3b) return new Http1ParseError('HPE_INVALID_CHUNK_EXTENSION', offset + i);
    i++;
    const nameStart = i;
    while (i < end && TOKEN_CHAR[line[i]!] === 1) i++;
    if (i === nameStart) return new Http1ParseError('HPE_INVALID_CHUNK_EXTENSION', offset + i);
    if (i < end && line[i] === 0x3d /* '=' */) {
      i++;
      if (i < end && line[i] === 0x22 /* '"' */) {
        i = quotedStringEnd(line, i, end);
        if (i < 0) return new Http1ParseError('HPE_INVALID_CHUNK_EXTENSION', offset);
      } else {
        const valueStart = i;
        while (i < end && TOKEN_CHAR[line[i]!] === 1) i++;
        if (i === valueStart) return new Http1ParseError('HPE_INVALID_CHUNK_EXTENSION', offset + i);
      }
    }
  }
  return size;
}

/** Index after the closing quote of the quoted-string opening at `i`, or -1. */
function quotedStringEnd(line: Buffer, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = line[i]!;
    if (c === 0x22) return i + 1;
    if (c === 0x5c /* '\' */) {
      const q = line[i + 1];
      if (i + 1 >= end || q === undefined || !(q === HTAB || (q >= SP && q !== 0x7f))) return -1;
      i += 2;
      continue;
    }
    if (!(c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80)) return -1;
    i++;
  }
  return -1;
}
