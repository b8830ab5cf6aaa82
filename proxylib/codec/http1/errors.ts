// Why the HTTP/1.1 codec rejected a message. The parser never throws on peer bytes: it reports one
// Http1ParseError through the handler's onError and stops. `reason` is stable (HPE_* names follow
// llhttp's error names where llhttp has the same check; the others are meshd's) and `status` is the
// response a server should answer with before closing the connection.
import { ProxyError } from '../../errors.js';

/** Reason → the status to answer (requests) and a one-line explanation. */
export const HTTP1_ERROR_REASONS = {
  HPE_INVALID_METHOD: [400, 'the method is not a token'],
  HPE_INVALID_URL: [400, 'the request target has a byte or a form HTTP/1.1 does not allow'],
  HPE_INVALID_VERSION: [400, 'the HTTP version is malformed'],
  HPE_UNSUPPORTED_VERSION: [505, 'an HTTP version other than 1.0 and 1.1'],
  HPE_INVALID_CONSTANT: [400, 'the start line does not have the expected shape (single spaces, CRLF)'],
  HPE_INVALID_STATUS: [502, 'the response status code is not three digits'],
  HPE_INVALID_HEADER_TOKEN: [400, 'a header name is not a token, or has whitespace before the colon'],
  HPE_INVALID_HEADER_VALUE: [400, 'a header value holds a byte that is not allowed (NUL, CR, LF, control, DEL)'],
  HPE_OBS_FOLD: [400, 'a header line folded onto the next one (obs-fold)'],
  HPE_LF_EXPECTED: [400, 'a CR not followed by LF'],
  HPE_CR_EXPECTED: [400, 'a bare LF without CR'],
  HPE_HEADER_OVERFLOW: [431, 'the head (or the trailers) is larger than the limit, or has too many fields'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'Content-Length is not a decimal number, or overflows'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'Content-Length together with Transfer-Encoding, or Content-Length more than once'],
  HPE_INVALID_TRANSFER_ENCODING: [501, 'a Transfer-Encoding other than exactly "chunked"'],
  HPE_TRANSFER_ENCODING_HTTP10: [400, 'Transfer-Encoding on an HTTP/1.0 message (framing would be ambiguous)'],
  HPE_INVALID_CHUNK_SIZE: [400, 'a chunk size that is not hex digits, overflows, or has spaces'],
  HPE_INVALID_CHUNK_EXTENSION: [400, 'a chunk extension that is not `;token[=token|quoted-string]`'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'a chunk-size line longer than the limit'],
  HPE_STRICT: [400, 'chunk data not followed by CRLF'],
  HPE_MISSING_HOST: [400, 'an HTTP/1.1 request without Host'],
  HPE_DUPLICATE_HOST: [400, 'Host more than once'],
  HPE_INVALID_HOST: [400, 'a Host (or absolute-form authority) with bytes an authority cannot have'],
  HPE_INVALID_EOF_STATE: [400, 'the connection ended in the middle of a message'],
  HPE_UNEXPECTED_DATA: [502, 'response bytes arrived while no response was expected'],
} as const satisfies Record<string, readonly [number, string]>;

export type Http1ErrorReason = keyof typeof HTTP1_ERROR_REASONS;

export class Http1ParseError extends ProxyError {
  /** Stable reason (HPE_*). */
  readonly reason: Http1ErrorReason;
  /** What a server answers before closing: 400, 413, 431, 501, 505 (502 for upstream responses). */
  readonly status: number;
  /** Byte offset in the chunk passed to execute() where the problem was found (best effort). */
  readonly offset: number;
  readonly detail: string | undefined;
  /** `status` defaults to the reason's request-side status; the response parser passes 502. */
  constructor(reason: Http1ErrorReason, offset: number, detail?: string, status?: number) {
    const [requestStatus, text] = HTTP1_ERROR_REASONS[reason];
    super('MESHD_ERR_PROXY_HTTP_PARSE', detail ? `${reason}: ${text} (${detail})` : `${reason}: ${text}`);
    this.name = 'Http1ParseError';
    this.reason = reason;
    this.status = status ?? requestStatus;
    this.offset = offset;
    this.detail = detail;
  }
}

/** Thrown by the serializers for a header or start line that cannot be written safely (a caller bug or bad config). */
export class Http1SerializeError extends ProxyError {
  constructor(message: string) {
    super('MESHD_ERR_PROXY_HTTP_SERIALIZE', message, 'header names must be tokens; values must not hold CR, LF, NUL or other controls');
    this.name = 'Http1SerializeError';
  }
}
