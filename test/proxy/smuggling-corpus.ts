// Test data for the codec's unit and differential tests and the HTTP/1.1 fuzz seeds (test/, not
// proxylib: nothing in production reads it): raw requests a proxy must reject — or accept exactly as documented — so that
// proxy and upstream never disagree on where a request ends. Each case says what meshd's parser
// does and, where Node's llhttp (non-lenient, as http.createServer runs it) decides differently,
// why meshd differs on purpose (checked by llhttp-differential.test.ts).
import type { Http1ErrorReason } from '../../proxylib/index.js';

export type SmugglingExpectation =
  /** Every request parsed; `targets` in order (the body of each is checked against `bodies` when given). */
  | { kind: 'accept'; targets: string[]; bodies?: string[] }
  /** `targets` parsed first (maybe none), then this error. */
  | { kind: 'reject'; reason: Http1ErrorReason; status: number; targets?: string[] }
  /** `targets` parsed, then the parser waits for more bytes (a truncated body). */
  | { kind: 'incomplete'; targets: string[] };

export interface SmugglingCase {
  name: string;
  /** The bytes on the wire (latin1). */
  raw: string;
  expect: SmugglingExpectation;
  /** Set when Node's llhttp decides differently (accepts where meshd rejects, or the reverse): the reason meshd differs. */
  differsFromLlhttp?: string;
}

const H = 'Host: a\r\n';

function post(headers: string, body: string): string {
  return `POST / HTTP/1.1\r\n${H}${headers}\r\n${body}`;
}

export const SMUGGLING_CORPUS: readonly SmugglingCase[] = [
  // ---- baselines that must work -------------------------------------------------------------
  { name: 'a simple GET', raw: `GET /a HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'accept', targets: ['/a'] } },
  { name: 'a POST with Content-Length', raw: post('Content-Length: 5\r\n', 'hello'), expect: { kind: 'accept', targets: ['/'], bodies: ['hello'] } },
  {
    name: 'a chunked POST with an extension and a trailer',
    raw: post('Transfer-Encoding: chunked\r\n', '5;name="v a\\"l"\r\nhello\r\n6;x=y;z\r\n world\r\n0\r\nX-T: 1\r\n\r\n'),
    expect: { kind: 'accept', targets: ['/'], bodies: ['hello world'] },
  },
  { name: 'Transfer-Encoding value in another case ("Chunked")', raw: post('Transfer-Encoding: Chunked\r\n', '0\r\n\r\n'), expect: { kind: 'accept', targets: ['/'] } },
  { name: 'Transfer-Encoding with a tab before the value (OWS)', raw: post('Transfer-Encoding:\tchunked\r\n', '0\r\n\r\n'), expect: { kind: 'accept', targets: ['/'] } },
  { name: 'Transfer-Encoding with a space after the value (OWS, trimmed)', raw: post('Transfer-Encoding: chunked \r\n', '0\r\n\r\n'), expect: { kind: 'accept', targets: ['/'] } },
  { name: 'TE: "chunked\\t" (a tab after the value, as llhttp rejects it)', raw: post('Transfer-Encoding: chunked\t\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 } },
  { name: 'Content-Length with a tab after the value (as llhttp rejects it)', raw: post('Content-Length: 0\t\r\n', ''), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },
  { name: 'TE: chunked, chunked in one header', raw: post('Transfer-Encoding: chunked, chunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 } },
  { name: 'TE: identity', raw: post('Transfer-Encoding: identity\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 } },
  {
    name: 'pipelined requests after a Content-Length body',
    raw: `${post('Content-Length: 3\r\n', 'abc')}GET /second HTTP/1.1\r\n${H}\r\n`,
    expect: { kind: 'accept', targets: ['/', '/second'], bodies: ['abc', ''] },
  },
  {
    name: 'pipelined requests after a chunked body',
    raw: `${post('Transfer-Encoding: chunked\r\n', '3\r\nabc\r\n0\r\n\r\n')}GET /second HTTP/1.1\r\n${H}\r\n`,
    expect: { kind: 'accept', targets: ['/', '/second'], bodies: ['abc', ''] },
  },
  { name: 'leading zeros in Content-Length', raw: post('Content-Length: 005\r\n', 'hello'), expect: { kind: 'accept', targets: ['/'], bodies: ['hello'] } },
  { name: 'leading zeros in a chunk size', raw: post('Transfer-Encoding: chunked\r\n', '005\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'accept', targets: ['/'], bodies: ['hello'] } },
  { name: 'upper-case hex chunk size', raw: post('Transfer-Encoding: chunked\r\n', 'A\r\n0123456789\r\n0\r\n\r\n'), expect: { kind: 'accept', targets: ['/'], bodies: ['0123456789'] } },
  { name: 'HTTP/1.0 without Host', raw: 'GET /old HTTP/1.0\r\n\r\n', expect: { kind: 'accept', targets: ['/old'] } },
  { name: 'absolute-form target', raw: `GET http://example.com:8080/p?q=1 HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'accept', targets: ['/p?q=1'] } },
  { name: 'OPTIONS *', raw: `OPTIONS * HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'accept', targets: ['*'] } },
  { name: 'empty lines before the request line are skipped', raw: `\r\n\r\nGET /a HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'accept', targets: ['/a'] } },
  { name: 'obs-text (bytes >= 0x80) in a header value', raw: `GET / HTTP/1.1\r\n${H}X-A: caf\u00e9\r\n\r\n`, expect: { kind: 'accept', targets: ['/'] } },
  { name: 'an empty header value', raw: `GET / HTTP/1.1\r\n${H}X-A:\r\n\r\n`, expect: { kind: 'accept', targets: ['/'] } },
  { name: 'whitespace around a header value', raw: `GET / HTTP/1.1\r\nHost:   a  \r\n\r\n`, expect: { kind: 'accept', targets: ['/'] } },
  { name: 'a backslash in the target (normalization decides later)', raw: `GET /a\\b HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'accept', targets: ['/a\\b'] } },
  { name: 'Transfer_Encoding (underscore) is an ordinary header', raw: post('Transfer_Encoding: chunked\r\nContent-Length: 3\r\n', 'abc'), expect: { kind: 'accept', targets: ['/'], bodies: ['abc'] } },
  { name: 'Expect: 100-continue with a body', raw: post('Expect: 100-continue\r\nContent-Length: 2\r\n', 'hi'), expect: { kind: 'accept', targets: ['/'], bodies: ['hi'] } },
  { name: 'a truncated Content-Length body waits for more', raw: post('Content-Length: 10\r\n', 'abc'), expect: { kind: 'incomplete', targets: ['/'] } },
  { name: 'a chunked body without the last chunk waits for more', raw: post('Transfer-Encoding: chunked\r\n', '3\r\nabc\r\n'), expect: { kind: 'incomplete', targets: ['/'] } },

  // ---- CL.TE / TE.CL ------------------------------------------------------------------------
  { name: 'CL.TE: Content-Length then Transfer-Encoding', raw: post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\nG'), expect: { kind: 'reject', reason: 'HPE_UNEXPECTED_CONTENT_LENGTH', status: 400 } },
  { name: 'TE.CL: Transfer-Encoding then Content-Length', raw: post('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', '5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_UNEXPECTED_CONTENT_LENGTH', status: 400 } },
  { name: 'CL.TE with Content-Length: 0', raw: post('Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_UNEXPECTED_CONTENT_LENGTH', status: 400 } },

  // ---- TE.TE obfuscations -------------------------------------------------------------------
  { name: 'TE: xchunked', raw: post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 } },
  { name: 'TE: chunked followed by a second TE header', raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 } },
  {
    name: 'TE: chunked twice in two headers',
    raw: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 },
  },
  { name: 'TE: "chunked ," (trailing empty element)', raw: post('Transfer-Encoding: chunked ,\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 } },
  { name: 'TE: gzip, chunked', raw: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 }, differsFromLlhttp: 'Envoy supports only exactly "chunked" and answers 501 to other codings; llhttp accepts chunked as the final coding' },
  { name: 'TE: chunked, gzip (chunked not last)', raw: post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_TRANSFER_ENCODING', status: 501 } },
  { name: 'TE with a space before the colon', raw: post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_TOKEN', status: 400 } },
  { name: 'TE hidden by obs-fold', raw: post('X-A: b\r\n Transfer-Encoding: chunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_OBS_FOLD', status: 400 } },
  { name: 'TE value with a vertical tab', raw: post('Transfer-Encoding: \u000bchunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_VALUE', status: 400 } },
  { name: 'TE name with a NUL', raw: post('Transfer-Encoding\u0000: chunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_TOKEN', status: 400 } },
  {
    name: 'TE on HTTP/1.0',
    raw: `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    expect: { kind: 'reject', reason: 'HPE_TRANSFER_ENCODING_HTTP10', status: 400 },
    differsFromLlhttp: 'RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (a 1.0 upstream would read it differently); llhttp de-chunks it',
  },

  // ---- Content-Length -----------------------------------------------------------------------
  { name: 'duplicate Content-Length, equal values', raw: post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), expect: { kind: 'reject', reason: 'HPE_UNEXPECTED_CONTENT_LENGTH', status: 400 } },
  { name: 'duplicate Content-Length, different values', raw: post('Content-Length: 5\r\nContent-Length: 6\r\n', 'hello!'), expect: { kind: 'reject', reason: 'HPE_UNEXPECTED_CONTENT_LENGTH', status: 400 } },
  { name: 'duplicate Content-Length in different letter case', raw: post('Content-Length: 5\r\ncontent-length: 5\r\n', 'hello'), expect: { kind: 'reject', reason: 'HPE_UNEXPECTED_CONTENT_LENGTH', status: 400 } },
  { name: 'Content-Length and transfer-encoding in other letter cases', raw: post('content-LENGTH: 3\r\ntransfer-ENCODING: chunked\r\n', '0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_UNEXPECTED_CONTENT_LENGTH', status: 400 } },
  { name: 'Content-Length as a list', raw: post('Content-Length: 5, 5\r\n', 'hello'), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },
  { name: 'Content-Length with a plus sign', raw: post('Content-Length: +5\r\n', 'hello'), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },
  { name: 'negative Content-Length', raw: post('Content-Length: -1\r\n', ''), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },
  { name: 'hex Content-Length', raw: post('Content-Length: 0x5\r\n', 'hello'), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },
  { name: 'Content-Length with inner space', raw: post('Content-Length: 5 5\r\n', 'hello'), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },
  { name: 'Content-Length that overflows', raw: post('Content-Length: 99999999999999999999\r\n', ''), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },
  { name: 'empty Content-Length', raw: post('Content-Length:\r\n', ''), expect: { kind: 'reject', reason: 'HPE_INVALID_CONTENT_LENGTH', status: 400 } },

  // ---- chunk framing ------------------------------------------------------------------------
  { name: 'chunk size with 0x', raw: post('Transfer-Encoding: chunked\r\n', '0x5\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_SIZE', status: 400, targets: ['/'] } },
  { name: 'chunk size with a sign', raw: post('Transfer-Encoding: chunked\r\n', '+5\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_SIZE', status: 400, targets: ['/'] } },
  { name: 'chunk size with a leading space', raw: post('Transfer-Encoding: chunked\r\n', ' 5\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_SIZE', status: 400, targets: ['/'] } },
  { name: 'chunk size with a trailing space', raw: post('Transfer-Encoding: chunked\r\n', '5 \r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_SIZE', status: 400, targets: ['/'] } },
  { name: 'chunk size with a tab before an extension', raw: post('Transfer-Encoding: chunked\r\n', '5\t;a=b\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_SIZE', status: 400, targets: ['/'] } },
  { name: 'chunk size that overflows', raw: post('Transfer-Encoding: chunked\r\n', 'fffffffffffffffff\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_SIZE', status: 400, targets: ['/'] } },
  { name: 'empty chunk size', raw: post('Transfer-Encoding: chunked\r\n', '\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_SIZE', status: 400, targets: ['/'] } },
  { name: 'chunk extension with an unterminated quote', raw: post('Transfer-Encoding: chunked\r\n', '5;a="b\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_EXTENSION', status: 400, targets: ['/'] } },
  { name: 'chunk extension with a space in the name', raw: post('Transfer-Encoding: chunked\r\n', '5;a b\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_EXTENSION', status: 400, targets: ['/'] } },
  { name: 'chunk extension with a NUL', raw: post('Transfer-Encoding: chunked\r\n', '5;a=\u0000\r\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_INVALID_CHUNK_EXTENSION', status: 400, targets: ['/'] } },
  { name: 'chunk data longer than its size (no CRLF after the data)', raw: post('Transfer-Encoding: chunked\r\n', '5\r\nhelloX\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_STRICT', status: 400, targets: ['/'] } },
  { name: 'chunk data followed by a bare LF', raw: post('Transfer-Encoding: chunked\r\n', '5\r\nhello\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_STRICT', status: 400, targets: ['/'] } },
  { name: 'chunk size line ended by a bare LF', raw: post('Transfer-Encoding: chunked\r\n', '5\nhello\r\n0\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_CR_EXPECTED', status: 400, targets: ['/'] } },
  { name: 'last chunk ended by bare LFs', raw: post('Transfer-Encoding: chunked\r\n', '0\n\n'), expect: { kind: 'reject', reason: 'HPE_CR_EXPECTED', status: 400, targets: ['/'] } },
  { name: 'a trailer folded with obs-fold', raw: post('Transfer-Encoding: chunked\r\n', '0\r\nX-T: a\r\n b\r\n\r\n'), expect: { kind: 'reject', reason: 'HPE_OBS_FOLD', status: 400, targets: ['/'] } },

  // ---- line endings, folding, bytes ---------------------------------------------------------
  { name: 'bare LF line endings', raw: 'GET / HTTP/1.1\nHost: a\n\n', expect: { kind: 'reject', reason: 'HPE_CR_EXPECTED', status: 400 } },
  { name: 'a bare LF after a header', raw: `GET / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_CR_EXPECTED', status: 400 } },
  { name: 'the head ended by CRLF LF', raw: `GET / HTTP/1.1\r\n${H}\n`, expect: { kind: 'reject', reason: 'HPE_CR_EXPECTED', status: 400 } },
  { name: 'a bare CR inside a header value', raw: `GET / HTTP/1.1\r\n${H}X-A: b\rX-B: c\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_LF_EXPECTED', status: 400 } },
  { name: 'a bare CR after the request line', raw: `GET / HTTP/1.1\r${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_LF_EXPECTED', status: 400 } },
  { name: 'a folded first header line', raw: `GET / HTTP/1.1\r\n ${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_OBS_FOLD', status: 400 } },
  { name: 'a header value with a lone CR before CRLF', raw: `GET / HTTP/1.1\r\n${H}X-A: b\r\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_LF_EXPECTED', status: 400 } },
  { name: 'obs-fold', raw: `GET / HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_OBS_FOLD', status: 400 } },
  { name: 'NUL in a header value', raw: `GET / HTTP/1.1\r\n${H}X-A: b\u0000c\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_VALUE', status: 400 } },
  { name: 'DEL in a header value', raw: `GET / HTTP/1.1\r\n${H}X-A: b\u007fc\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_VALUE', status: 400 } },
  { name: 'a space inside a header name', raw: `GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_TOKEN', status: 400 } },
  { name: 'an empty header name', raw: `GET / HTTP/1.1\r\n${H}: b\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_TOKEN', status: 400 } },
  { name: 'a header line without a colon', raw: `GET / HTTP/1.1\r\n${H}X-A\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_HEADER_TOKEN', status: 400 } },

  // ---- request line -------------------------------------------------------------------------
  {
    name: 'two spaces after the method',
    raw: `GET  / HTTP/1.1\r\n${H}\r\n`,
    expect: { kind: 'reject', reason: 'HPE_INVALID_CONSTANT', status: 400 },
    differsFromLlhttp: 'RFC 9112 §3: single SP separators; a proxy that splits the line differently from its upstream is a desync risk; llhttp skips extra spaces',
  },
  { name: 'a space after the version', raw: `GET / HTTP/1.1 \r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_VERSION', status: 400 } },
  {
    name: 'HTTP/2.0 in an HTTP/1 request line',
    raw: `GET / HTTP/2.0\r\n${H}\r\n`,
    expect: { kind: 'reject', reason: 'HPE_UNSUPPORTED_VERSION', status: 505 },
    differsFromLlhttp: 'only HTTP/1.0 and 1.1 have HTTP/1 framing rules; llhttp parses 2.0 like 1.1',
  },
  { name: 'HTTP/1.2', raw: `GET / HTTP/1.2\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_UNSUPPORTED_VERSION', status: 505 } },
  {
    name: 'HTTP/0.9 style version',
    raw: `GET / HTTP/0.9\r\n${H}\r\n`,
    expect: { kind: 'reject', reason: 'HPE_UNSUPPORTED_VERSION', status: 505 },
    differsFromLlhttp: 'HTTP/0.9 has no headers or framing; meshd (like Envoy) does not speak it; llhttp accepts the version',
  },
  { name: 'a lower-case version', raw: `GET / http/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_VERSION', status: 400 } },
  {
    name: 'no version',
    raw: `GET /\r\n${H}\r\n`,
    expect: { kind: 'reject', reason: 'HPE_INVALID_CONSTANT', status: 400 },
    differsFromLlhttp: 'a versionless request line is HTTP/0.9, which meshd does not speak; llhttp accepts it',
  },
  { name: 'a tab in the target', raw: `GET /a\tb HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 } },
  { name: 'DEL in the target', raw: `GET /a\u007f HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 } },
  { name: 'a byte >= 0x80 in the target', raw: `GET /caf\u00e9 HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 } },
  { name: 'a NUL in the target', raw: `GET /a\u0000 HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 } },
  { name: 'a relative target without a slash', raw: `GET admin HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 } },
  { name: 'a method that is not a token', raw: `G(T / HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_METHOD', status: 400 } },
  {
    name: 'CONNECT with an origin-form target',
    raw: `CONNECT / HTTP/1.1\r\n${H}\r\n`,
    expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 },
    differsFromLlhttp: 'RFC 9110 §9.3.6: CONNECT takes authority-form (host:port) only; llhttp accepts any target',
  },
  { name: 'GET with an asterisk target', raw: `GET * HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 }, differsFromLlhttp: 'RFC 9112 §3.2.4: asterisk-form is only for OPTIONS; llhttp accepts it with any method' },
  { name: 'absolute-form with userinfo', raw: `GET http://user@evil/ HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_URL', status: 400 }, differsFromLlhttp: 'userinfo in a request target is a host-confusion vector (RFC 9110 §4.2.4 deprecates it); llhttp accepts it' },
  { name: 'a method llhttp does not know', raw: `PURGEALL /a HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_METHOD', status: 400 } },
  { name: 'a lower-case method', raw: `get /admin HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_METHOD', status: 400 } },
  { name: 'a known extension method (PURGE)', raw: `PURGE /a HTTP/1.1\r\n${H}\r\n`, expect: { kind: 'accept', targets: ['/a'] } },
  { name: 'CONNECT with an authority-form target', raw: `CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n`, expect: { kind: 'accept', targets: ['a:443'] } },

  // ---- Host ---------------------------------------------------------------------------------
  { name: 'HTTP/1.1 without Host', raw: 'GET / HTTP/1.1\r\n\r\n', expect: { kind: 'reject', reason: 'HPE_MISSING_HOST', status: 400 } },
  { name: 'Host twice', raw: `GET / HTTP/1.1\r\n${H}Host: b\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_DUPLICATE_HOST', status: 400 }, differsFromLlhttp: 'RFC 9112 §3.2 requires 400 for more than one Host; two Hosts let proxy and upstream route by different ones; Node does not check' },
  { name: 'Host with a space', raw: `GET / HTTP/1.1\r\nHost: a b\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_HOST', status: 400 }, differsFromLlhttp: 'Envoy (nghttp2 authority check) rejects an authority with bytes a URI authority cannot have; Node does not check' },
  { name: 'Host with userinfo', raw: `GET / HTTP/1.1\r\nHost: user@a\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_INVALID_HOST', status: 400 }, differsFromLlhttp: 'userinfo in Host is a host-confusion vector; Node does not check' },

  // ---- limits -------------------------------------------------------------------------------
  { name: 'a head larger than 60 KiB', raw: `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(61 * 1024)}\r\n\r\n`, expect: { kind: 'reject', reason: 'HPE_HEADER_OVERFLOW', status: 431 } },
  {
    name: 'more than 100 header fields',
    raw: `GET / HTTP/1.1\r\n${H}${Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`,
    expect: { kind: 'reject', reason: 'HPE_HEADER_OVERFLOW', status: 431 },
    differsFromLlhttp: "Envoy's max_headers_count (default 100) answers 431; Node drops fields beyond maxHeadersCount silently",
  },
];
