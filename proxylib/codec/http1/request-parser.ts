// Strict incremental HTTP/1.1 request parser (downstream side). See index.ts for the API and the list
// of what is rejected and why.
import { METHODS } from 'node:http';
import type { HeaderList } from '../../hcm/types.js';
import { TOKEN_CHAR } from '../../http/index.js';
import { Http1ParseError } from './errors.js';
import type { Http1Limits } from './limits.js';
import { CR, LF, SP, isValidAuthority, parseDecimal, parseFieldLines } from './lines.js';
import { MessageParser, type BodyCallbacks, type BodyFraming, type HeadDecision } from './message-parser.js';

export interface Http1RequestHead {
  method: string;
  /**
   * Origin-form path and query as received ('/a/b?c'); absolute-form targets are reduced to their
   * path and query ('/' when empty) with the authority moved to `authority`; CONNECT keeps its
   * authority-form target ('host:port'); `OPTIONS *` keeps '*'. Not normalized (see proxylib/http).
   */
  target: string;
  targetForm: 'origin' | 'absolute' | 'authority' | 'asterisk';
  /** The absolute-form or CONNECT authority when there is one, else the Host header ('' when absent, HTTP/1.0 only). */
  authority: string;
  /** 'http' | 'https' from an absolute-form target, else undefined (the connection decides). */
  absoluteScheme: 'http' | 'https' | undefined;
  version: 'HTTP/1.0' | 'HTTP/1.1';
  /** All fields in arrival order, lower-case names, values without surrounding whitespace. */
  headers: HeaderList;
  framing: BodyFraming;
  /** HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`. */
  keepAlive: boolean;
  /** Lower-case Upgrade value when `Connection` lists `upgrade` (HTTP/1.1, not CONNECT), else undefined. */
  upgrade: string | undefined;
  /** `Expect: 100-continue` (case-insensitive). Other Expect values are left to the caller. */
  expectContinue: boolean;
  /** Bytes of the head on the wire (start line through the empty line). */
  headBytes: number;
}

export interface RequestHandler extends BodyCallbacks {
  /** A complete, validated request head. The body (if any) follows through onBody. */
  onHead(head: Http1RequestHead): void;
}

export class RequestParser extends MessageParser {
  constructor(
    limits: Http1Limits,
    private readonly handler: RequestHandler,
  ) {
    super(limits, handler, true);
  }

  protected onHeadBlock(block: Buffer, offset: number): HeadDecision | Http1ParseError {
    const text = block.toString('latin1');
    const line = parseRequestLine(block, text, offset);
    if (line instanceof Http1ParseError) return line;
    const fields = parseFieldLines(block, text, line.next, this.limits.maxHeaderCount, offset);
    if (fields instanceof Http1ParseError) return fields;
    const head = interpretRequest(line, fields.headers, fields.tabTrailed, block.length, offset);
    if (head instanceof Http1ParseError) return head;
    this.handler.onHead(head);
    const after: HeadDecision['after'] =
      head.method === 'CONNECT' || head.upgrade !== undefined ? 'tunnel' : head.keepAlive ? 'next' : 'closed';
    return { framing: head.framing, after };
  }
}

/**
 * The methods llhttp knows (node:http's METHODS, i.e. exactly what Node's own parser accepts), without
 * PRI (the HTTP/2 preface never belongs to an HTTP/1.1 parser). Like llhttp — and Envoy, whose
 * HTTP/1 codec rejects custom methods unless allow_custom_methods is set — anything else is 400.
 * Case-sensitive: `get` is not GET, and accepting it would let `get /admin` slip past a deny rule
 * for GET while a lenient upstream serves it as GET.
 */
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS.filter((m) => m !== 'PRI'));

interface RequestLine {
  method: string;
  target: string;
  version: 'HTTP/1.0' | 'HTTP/1.1';
  /** Index of the first header line. */
  next: number;
}

/** `method SP request-target SP HTTP-version CRLF`, single spaces, strict bytes. */
function parseRequestLine(block: Buffer, text: string, offset: number): RequestLine | Http1ParseError {
  let i = 0;
  while (TOKEN_CHAR[block[i]!] === 1) i++;
  if (i === 0 || block[i] !== SP) return new Http1ParseError(i === 0 || block[i] !== CR ? 'HPE_INVALID_METHOD' : 'HPE_INVALID_CONSTANT', offset + i);
  const method = text.slice(0, i);
  if (!KNOWN_METHODS.has(method)) return new Http1ParseError('HPE_INVALID_METHOD', offset, JSON.stringify(method.slice(0, 40)));
  i++;
  const targetStart = i;
  // llhttp's strict URL bytes: visible ASCII only (no controls, no space, no DEL, no bytes >= 0x80).
  while (block[i]! > 0x20 && block[i]! < 0x7f) i++;
  if (i === targetStart) return new Http1ParseError(block[i] === SP ? 'HPE_INVALID_CONSTANT' : 'HPE_INVALID_URL', offset + i);
  if (block[i] !== SP) return new Http1ParseError(block[i] === CR ? 'HPE_INVALID_CONSTANT' : 'HPE_INVALID_URL', offset + i);
  const target = text.slice(targetStart, i);
  i++;
  const v = i;
  // "HTTP/" DIGIT "." DIGIT CR LF
  if (
    block[v] !== 0x48 || block[v + 1] !== 0x54 || block[v + 2] !== 0x54 || block[v + 3] !== 0x50 || block[v + 4] !== 0x2f ||
    !isDigit(block[v + 5]) || block[v + 6] !== 0x2e || !isDigit(block[v + 7])
  ) {
    return new Http1ParseError('HPE_INVALID_VERSION', offset + v);
  }
  if (block[v + 8] !== CR) return new Http1ParseError('HPE_INVALID_VERSION', offset + v + 8);
  if (block[v + 9] !== LF) return new Http1ParseError('HPE_LF_EXPECTED', offset + v + 9);
  const major = block[v + 5]! - 0x30;
  const minor = block[v + 7]! - 0x30;
  if (major !== 1 || minor > 1) return new Http1ParseError('HPE_UNSUPPORTED_VERSION', offset + v, `HTTP/${major}.${minor}`);
  return { method, target, version: minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0', next: v + 10 };
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

interface TargetParts {
  form: Http1RequestHead['targetForm'];
  target: string;
  authority: string | undefined;
  scheme: 'http' | 'https' | undefined;
}

function parseTarget(method: string, raw: string): TargetParts | undefined {
  if (method === 'CONNECT') {
    // authority-form: host:port, nothing else (RFC 9110 §9.3.6).
    const colon = raw.lastIndexOf(':');
    if (colon <= 0 || colon === raw.length - 1 || !isValidAuthority(raw) || parseDecimal(raw.slice(colon + 1)) < 0) return undefined;
    return { form: 'authority', target: raw, authority: raw, scheme: undefined };
  }
  if (raw.charCodeAt(0) === 0x2f) return { form: 'origin', target: raw, authority: undefined, scheme: undefined };
  if (raw === '*') return method === 'OPTIONS' ? { form: 'asterisk', target: raw, authority: undefined, scheme: undefined } : undefined;
  const lower = raw.slice(0, 8).toLowerCase();
  const scheme = lower.startsWith('http://') ? 'http' : lower.startsWith('https://') ? 'https' : undefined;
  if (scheme === undefined) return undefined;
  const rest = raw.slice(scheme.length + 3);
  let end = 0;
  while (end < rest.length && rest[end] !== '/' && rest[end] !== '?' && rest[end] !== '#') end++;
  const authority = rest.slice(0, end);
  if (authority.length === 0 || !isValidAuthority(authority)) return undefined;
  const tail = rest.slice(end);
  const target = tail.length === 0 ? '/' : tail.charCodeAt(0) === 0x2f ? tail : `/${tail}`;
  return { form: 'absolute', target, authority, scheme };
}

function interpretRequest(
  line: RequestLine,
  headers: HeaderList,
  tabTrailed: number[] | undefined,
  headBytes: number,
  offset: number,
): Http1RequestHead | Http1ParseError {
  const target = parseTarget(line.method, line.target);
  if (target === undefined) return new Http1ParseError('HPE_INVALID_URL', offset, JSON.stringify(line.target.slice(0, 80)));
  if (tabTrailed) {
    for (const i of tabTrailed) {
      const name = headers[i]![0];
      if (name === 'content-length') return new Http1ParseError('HPE_INVALID_CONTENT_LENGTH', offset, 'a tab after the value');
      if (name === 'transfer-encoding') return new Http1ParseError('HPE_INVALID_TRANSFER_ENCODING', offset, 'a tab after the value');
    }
  }
  let contentLength = -1;
  let contentLengthCount = 0;
  let transferEncoding: string | undefined;
  let host: string | undefined;
  let close = false;
  let keepAliveToken = false;
  let upgradeToken = false;
  let upgrade: string | undefined;
  let expectContinue = false;
  for (const [name, value] of headers) {
    switch (name) {
      case 'content-length':
        contentLengthCount++;
        if (contentLengthCount > 1) return new Http1ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', offset, 'Content-Length more than once');
        contentLength = parseDecimal(value);
        if (contentLength < 0) return new Http1ParseError('HPE_INVALID_CONTENT_LENGTH', offset, JSON.stringify(value.slice(0, 40)));
        break;
      case 'transfer-encoding':
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
        break;
      case 'host':
        if (host !== undefined) return new Http1ParseError('HPE_DUPLICATE_HOST', offset);
        if (!isValidAuthority(value)) return new Http1ParseError('HPE_INVALID_HOST', offset);
        host = value;
        break;
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t === 'close') close = true;
          else if (t === 'keep-alive') keepAliveToken = true;
          else if (t === 'upgrade') upgradeToken = true;
        }
        break;
      case 'upgrade':
        upgrade = value.toLowerCase();
        break;
      case 'expect':
        if (value.toLowerCase() === '100-continue') expectContinue = true;
        break;
    }
  }
  const http11 = line.version === 'HTTP/1.1';
  let framing: BodyFraming = { kind: 'none' };
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: Transfer-Encoding on HTTP/1.0 means the framing cannot be trusted.
    if (!http11) return new Http1ParseError('HPE_TRANSFER_ENCODING_HTTP10', offset);
    // Envoy and llhttp: both headers together are a 400 (the CL.TE / TE.CL smuggling shapes).
    if (contentLengthCount > 0) return new Http1ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', offset, 'Content-Length with Transfer-Encoding');
    // Envoy: anything but exactly "chunked" (case-insensitive), or any Transfer-Encoding on CONNECT, is 501.
    if (transferEncoding.trim().toLowerCase() !== 'chunked' || line.method === 'CONNECT') {
      return new Http1ParseError('HPE_INVALID_TRANSFER_ENCODING', offset, JSON.stringify(transferEncoding.slice(0, 40)));
    }
    framing = { kind: 'chunked' };
  } else if (contentLength > 0) {
    if (line.method === 'CONNECT') return new Http1ParseError('HPE_UNEXPECTED_CONTENT_LENGTH', offset, 'a body on CONNECT');
    framing = { kind: 'length', length: contentLength };
  }
  if (http11 && host === undefined) return new Http1ParseError('HPE_MISSING_HOST', offset);
  return {
    method: line.method,
    target: target.target,
    targetForm: target.form,
    authority: target.authority ?? host ?? '',
    absoluteScheme: target.scheme,
    version: line.version,
    headers,
    framing,
    keepAlive: http11 ? !close : keepAliveToken && !close,
    upgrade: http11 && upgradeToken && upgrade !== undefined && line.method !== 'CONNECT' ? upgrade : undefined,
    expectContinue,
    headBytes,
  };
}
