// Strict incremental HTTP/1.1 response parser (upstream side). See index.ts for the API.
import type { HeaderList } from '../../hcm/types.js';
import { Http1ParseError } from './errors.js';
import type { Http1Limits } from './limits.js';
import { CR, HTAB, LF, SP, parseDecimal, parseFieldLines } from './lines.js';
import { MessageParser, type BodyCallbacks, type BodyFraming, type HeadDecision } from './message-parser.js';

export interface Http1ResponseHead {
  status: number;
  /** Reason phrase as received ('' when absent). */
  reason: string;
  version: 'HTTP/1.0' | 'HTTP/1.1';
  headers: HeaderList;
  /** 'none' for 1xx, 204, 304, responses to HEAD, and tunnels (101, 2xx to CONNECT). */
  framing: BodyFraming;
  /** The connection may carry another request after this response. */
  keepAlive: boolean;
  /** 1xx other than 101: another head follows for the same request (no onMessageComplete for it). */
  informational: boolean;
  /** 101 Switching Protocols, or a 2xx answer to CONNECT: after this head the bytes are the tunnel's. */
  tunnel: boolean;
  headBytes: number;
}

export interface ResponseHandler extends BodyCallbacks {
  onHead(head: Http1ResponseHead): void;
}

export class ResponseParser extends MessageParser {
  private requestMethod: string | undefined;

  constructor(
    limits: Http1Limits,
    private readonly handler: ResponseHandler,
  ) {
    super(limits, handler, false);
  }

  /**
   * Announces the request the next response answers (its method decides HEAD and CONNECT framing).
   * Call it when the request is sent; response bytes that arrive with no request outstanding are
   * an error (HPE_UNEXPECTED_DATA): a keep-alive upstream must not speak unasked.
   */
  expectResponse(method: string): void {
    this.requestMethod = method;
  }

  /** Whether a response is outstanding (expectResponse called and the final response not complete). */
  get awaitingResponse(): boolean {
    return this.requestMethod !== undefined;
  }

  protected override beforeHead(offset: number): Http1ParseError | undefined {
    return this.requestMethod === undefined ? new Http1ParseError('HPE_UNEXPECTED_DATA', offset) : undefined;
  }

  /** An invalid response is the upstream's fault: the client gets 502 whatever the reason. */
  protected override errorStatus(): number {
    return 502;
  }

  protected override onIdle(): void {
    this.requestMethod = undefined;
  }

  protected onHeadBlock(block: Buffer, offset: number): HeadDecision | 'informational' | Http1ParseError {
    const head = parseResponseHead(block, offset, this.limits.maxHeaderCount, this.requestMethod ?? 'GET');
    if (head instanceof Http1ParseError) return head;
    this.handler.onHead(head);
    if (head.informational) return 'informational';
    const after: HeadDecision['after'] = head.tunnel ? 'tunnel' : head.keepAlive ? 'next' : 'closed';
    if (after !== 'next') this.requestMethod = undefined;
    return { framing: head.framing, after };
  }
}

function parseResponseHead(block: Buffer, offset: number, maxCount: number, method: string): Http1ResponseHead | Http1ParseError {
  // "HTTP/1.x" SP 3DIGIT [ SP reason-phrase ] CRLF — the reason (and its SP) may be missing, as
  // many servers send it; the reason holds HTAB, SP, VCHAR, obs-text only.
  if (
    block[0] !== 0x48 || block[1] !== 0x54 || block[2] !== 0x54 || block[3] !== 0x50 || block[4] !== 0x2f ||
    block[5] !== 0x31 || block[6] !== 0x2e || (block[7] !== 0x30 && block[7] !== 0x31)
  ) {
    const looksVersioned = block[4] === 0x2f && isDigit(block[5]) && block[6] === 0x2e && isDigit(block[7]);
    return new Http1ParseError(looksVersioned ? 'HPE_UNSUPPORTED_VERSION' : 'HPE_INVALID_VERSION', offset);
  }
  if (block[8] !== SP) return new Http1ParseError('HPE_INVALID_CONSTANT', offset + 8);
  if (!isDigit(block[9]) || !isDigit(block[10]) || !isDigit(block[11]) || block[9] === 0x30) {
    return new Http1ParseError('HPE_INVALID_STATUS', offset + 9);
  }
  const status = (block[9]! - 0x30) * 100 + (block[10]! - 0x30) * 10 + (block[11]! - 0x30);
  let i = 12;
  let reason = '';
  if (block[i] === SP) {
    i++;
    const start = i;
    while (block[i] === HTAB || (block[i]! >= SP && block[i] !== 0x7f)) i++;
    reason = block.toString('latin1', start, i);
  }
  if (block[i] !== CR) return new Http1ParseError('HPE_INVALID_STATUS', offset + i);
  if (block[i + 1] !== LF) return new Http1ParseError('HPE_LF_EXPECTED', offset + i + 1);
  const fields = parseFieldLines(block, block.toString('latin1'), i + 2, maxCount, offset);
  if (fields instanceof Http1ParseError) return fields;
  const headers = fields.headers;
  for (const i of fields.tabTrailed ?? []) {
    const name = headers[i]![0];
    if (name === 'content-length') return new Http1ParseError('HPE_INVALID_CONTENT_LENGTH', offset, 'a tab after the value');
    if (name === 'transfer-encoding') return new Http1ParseError('HPE_INVALID_TRANSFER_ENCODING', offset, 'a tab after the value');
  }
  const http11 = block[7] === 0x31;
  let contentLength = -1;
  let contentLengthCount = 0;
  let transferEncoding: string | undefined;
  let close = false;
  let keepAliveToken = false;
  for (const [name, value] of headers) {
    if (name === 'content-length') {
      contentLengthCount++;
      if (contentLengthCount > 1) return new Http1ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', offset, 'Content-Length more than once');
      contentLength = parseDecimal(value);
      if (contentLength < 0) return new Http1ParseError('HPE_INVALID_CONTENT_LENGTH', offset);
    } else if (name === 'transfer-encoding') {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
    } else if (name === 'connection') {
      for (const token of value.split(',')) {
        const t = token.trim().toLowerCase();
        if (t === 'close') close = true;
        else if (t === 'keep-alive') keepAliveToken = true;
      }
    }
  }
  const informational = status >= 100 && status < 200 && status !== 101;
  const tunnel = status === 101 || (method === 'CONNECT' && status >= 200 && status < 300);
  let framing: BodyFraming;
  let keepAlive = http11 ? !close : keepAliveToken && !close;
  if (status < 200 || status === 204 || status === 304 || method === 'HEAD' || tunnel) {
    framing = { kind: 'none' };
  } else if (transferEncoding !== undefined) {
    if (contentLengthCount > 0) return new Http1ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', offset, 'Content-Length with Transfer-Encoding');
    if (!http11) return new Http1ParseError('HPE_TRANSFER_ENCODING_HTTP10', offset);
    // RFC 9112 §6.3: chunked as the final coding → chunked; otherwise the body runs to close.
    const codings = transferEncoding.split(',').map((t) => t.trim().toLowerCase());
    if (codings[codings.length - 1] === 'chunked') {
      if (codings.indexOf('chunked') !== codings.length - 1) return new Http1ParseError('HPE_INVALID_TRANSFER_ENCODING', offset, 'chunked applied twice');
      framing = { kind: 'chunked' };
    } else {
      framing = { kind: 'close' };
      keepAlive = false;
    }
  } else if (contentLength >= 0) {
    framing = contentLength === 0 ? { kind: 'none' } : { kind: 'length', length: contentLength };
  } else {
    framing = { kind: 'close' };
    keepAlive = false;
  }
  return { status, reason, version: http11 ? 'HTTP/1.1' : 'HTTP/1.0', headers, framing, keepAlive, informational, tunnel, headBytes: block.length };
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}
