// Byte-level pieces shared by the request and response parsers: finding the end of a head (or of a
// trailer section, or of one chunk-size line) across chunk boundaries with bounded memory, and
// parsing header field lines.
//
// Line endings are strict: every LF must follow a CR (bare LF → HPE_CR_EXPECTED) and a CR anywhere
// else is caught by the byte checks of whatever the line holds (a CR inside a line → HPE_LF_EXPECTED).
import type { HeaderList } from '../../hcm/types.js';
import { FIELD_VALUE_CHAR, TOKEN_CHAR } from '../../http/index.js';
import { Http1ParseError } from './errors.js';

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;

export type ScanResult =
  /** The block ends in this chunk: `end` is the index just after its final LF; `block` holds it whole. */
  | { kind: 'done'; end: number; block: Buffer }
  /** The chunk ended first: all of it (from `start`) belongs to the block. */
  | { kind: 'more' }
  | { kind: 'error'; error: Http1ParseError };

/**
 * Finds the end of a block of CRLF-terminated lines: a head or trailer section ends with an empty
 * line (mode 'block'), a chunk-size line with its own CRLF (mode 'line'). A block that arrives in one
 * chunk is returned as a view of it (no copy: the common case). When it spans chunks, the partial
 * bytes are COPIED into one growing buffer: keeping views of many tiny chunks would let a peer that
 * sends one byte per packet make a 60 KiB head cost megabytes of Buffer objects. So a scanner never
 * holds more than 2 × `limit` bytes, and feeding one byte at a time costs O(total).
 */
export class LineBlockScanner {
  private held: Buffer | undefined;
  private size = 0;
  private lineLength = 0;
  private lastWasCr = false;
  private started = false;

  constructor(
    private readonly mode: 'block' | 'line',
    private readonly limit: number,
    private readonly overflow: 'HPE_HEADER_OVERFLOW' | 'HPE_CHUNK_EXTENSIONS_OVERFLOW',
    /** Empty lines before the first line are skipped (RFC 9112 §2.2: before a request line). */
    private readonly skipLeadingEmptyLines: boolean,
  ) {}

  reset(): void {
    this.held = undefined;
    this.size = 0;
    this.lineLength = 0;
    this.lastWasCr = false;
    this.started = false;
  }

  /** Bytes of the current block seen so far (0 between blocks). */
  get heldBytes(): number {
    return this.size;
  }

  /** Copies chunk[from, to) after the bytes already held (size − (to − from) of them). */
  private hold(chunk: Buffer, from: number, to: number): void {
    const have = this.size - (to - from);
    if (this.held === undefined || this.held.length < this.size) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(this.size * 2, 256), this.limit + 2));
      if (this.held !== undefined && have > 0) this.held.copy(grown, 0, 0, have);
      this.held = grown;
    }
    chunk.copy(this.held, have, from, to);
  }

  scan(chunk: Buffer, start: number): ScanResult {
    let blockStart = start;
    let pos = start;
    const n = chunk.length;
    while (pos < n) {
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        this.lineLength += n - pos;
        this.lastWasCr = chunk[n - 1] === CR;
        this.size += n - pos;
        if (this.size > this.limit) return { kind: 'error', error: new Http1ParseError(this.overflow, n - 1) };
        if (n > blockStart) this.hold(chunk, blockStart, n);
        return { kind: 'more' };
      }
      // The size check comes first so that the verdict never depends on how bytes were split
      // (split feeding would have hit the limit before seeing this LF).
      this.size += lf + 1 - pos;
      if (this.size > this.limit) return { kind: 'error', error: new Http1ParseError(this.overflow, lf) };
      const crBefore = lf > pos ? chunk[lf - 1] === CR : this.lastWasCr;
      if (!crBefore) return { kind: 'error', error: new Http1ParseError('HPE_CR_EXPECTED', lf) };
      const contentLength = this.lineLength + (lf - pos) - 1; // without its CR
      this.lineLength = 0;
      this.lastWasCr = false;
      pos = lf + 1;
      if (this.mode === 'line') return this.complete(chunk, blockStart, pos);
      if (contentLength === 0) {
        if (this.started || !this.skipLeadingEmptyLines) return this.complete(chunk, blockStart, pos);
        // A leading empty line: drop it from the block.
        this.size = 0;
        blockStart = pos;
        continue;
      }
      this.started = true;
    }
    if (n > blockStart) this.hold(chunk, blockStart, n);
    return { kind: 'more' };
  }

  private complete(chunk: Buffer, blockStart: number, end: number): ScanResult {
    const total = this.size;
    let block: Buffer;
    if (total === end - blockStart) block = chunk.subarray(blockStart, end);
    else {
      this.hold(chunk, blockStart, end);
      block = this.held!.subarray(0, total);
    }
    this.held = undefined; // the block now owns those bytes
    this.reset();
    return { kind: 'done', end, block };
  }
}

/** Fields parsed from the lines of a head or trailer section. */
export interface ParsedFields {
  headers: HeaderList;
  /**
   * Indexes (in `headers`) of values whose trailing whitespace held an HTAB — llhttp rejects that
   * for Content-Length and Transfer-Encoding (`chunked\t`), so the parsers do too. Usually empty.
   */
  tabTrailed: number[] | undefined;
  /** Index just after the empty line that ends the section. */
  end: number;
}

/**
 * Parses header field lines of `block` from `pos` up to and including the empty line. The block was
 * produced by LineBlockScanner, so every LF is preceded by CR and the block ends with CRLF CRLF (or is
 * just CRLF). `text` is the same block decoded as latin1 (decoded once per head: one native call
 * instead of two per field — measured as the largest cost of parsing a head). Names are lower-cased;
 * values have their surrounding SP/HTAB removed. Bytes are checked on the Buffer, strings are sliced
 * from `text`.
 */
export function parseFieldLines(block: Buffer, text: string, pos: number, maxCount: number, offsetBase: number): ParsedFields | Http1ParseError {
  const headers: HeaderList = [];
  let tabTrailed: number[] | undefined;
  for (;;) {
    const first = block[pos];
    if (first === CR) {
      if (block[pos + 1] === LF) return { headers, end: pos + 2, tabTrailed };
      return new Http1ParseError('HPE_LF_EXPECTED', offsetBase + pos);
    }
    if (first === SP || first === HTAB) return new Http1ParseError('HPE_OBS_FOLD', offsetBase + pos);
    let i = pos;
    let upper = false;
    for (;;) {
      const c = block[i]!;
      if (TOKEN_CHAR[c] !== 1) break;
      if (c >= 0x41 && c <= 0x5a) upper = true;
      i++;
    }
    if (i === pos || block[i] !== 0x3a /* ':' */) {
      const bareCr = block[i] === CR && block[i + 1] !== LF;
      return new Http1ParseError(bareCr ? 'HPE_LF_EXPECTED' : 'HPE_INVALID_HEADER_TOKEN', offsetBase + i);
    }
    const nameEnd = i;
    i++;
    while (block[i] === SP || block[i] === HTAB) i++;
    const valueStart = i;
    let valueEnd = valueStart;
    for (;;) {
      const c = block[i]!;
      if (FIELD_VALUE_CHAR[c] !== 1) {
        if (c === CR && block[i + 1] === LF) break;
        return new Http1ParseError(c === CR ? 'HPE_LF_EXPECTED' : 'HPE_INVALID_HEADER_VALUE', offsetBase + i);
      }
      if (c !== SP && c !== HTAB) valueEnd = i + 1;
      i++;
    }
    if (headers.length >= maxCount) return new Http1ParseError('HPE_HEADER_OVERFLOW', offsetBase + pos, `more than ${maxCount} fields`);
    for (let t = valueEnd; t < i; t++) {
      if (block[t] === HTAB) {
        (tabTrailed ??= []).push(headers.length);
        break;
      }
    }
    const name = text.slice(pos, nameEnd);
    headers.push([upper ? name.toLowerCase() : name, text.slice(valueStart, valueEnd)]);
    pos = i + 2;
  }
}

/** Strict decimal (Content-Length): digits only, ≤ Number.MAX_SAFE_INTEGER; -1 when invalid. */
export function parseDecimal(value: string): number {
  if (value.length === 0 || value.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n > Number.MAX_SAFE_INTEGER ? -1 : n;
}

/**
 * RFC 3986 authority bytes (Host, absolute-form and CONNECT targets): unreserved, sub-delims, ':',
 * '[', ']', '%' — the same set nghttp2 (and so Envoy) accepts for :authority. No '@': userinfo is
 * rejected (RFC 9110 §4.2.4 deprecates it and it is a classic confusion vector).
 */
const AUTHORITY_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "-._~!$&'()*+,;=:[]%") t[ch.charCodeAt(0)] = 1;
  return t;
})();

export function isValidAuthority(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0xff || AUTHORITY_CHAR[c] !== 1) return false;
  }
  return true;
}
