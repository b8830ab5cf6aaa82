// proxylib/codec/http1 — a strict, incremental HTTP/1.1 parser (requests and responses) on Buffers,
// plus head/chunk serializers. No sockets, no node:http.
//
// Why hand-written: undici's llhttp is an internal WASM module (not a public API) whose every callback
// crosses the WASM boundary; process.binding('http_parser') is deprecated and not for userland;
// research/perf.md measured node:http + undici at ~0.4× nginx and raw sockets with own parsing at
// ~0.8×. So the hot path parses itself — and must be at least as strict as llhttp's strict mode and
// Envoy, because anything it lets through reaches upstreams (request smuggling).
//
// ---- API (stable; fields are only added) -------------------------------------------------------
//
//   const parser = new RequestParser(limits, {
//     onHead(head: Http1RequestHead) {},          // complete validated head
//     onBody(chunk: Buffer) {},                   // de-chunked body bytes (views into your chunk)
//     onTrailers?(trailers: HeaderList) {},       // chunked trailers, when present
//     onMessageComplete(): boolean | void {},     // return true → execute() returns right after it
//     onError(err: Http1ParseError) {},           // once; err.reason (HPE_*), err.status to answer
//   });
//   const consumed = parser.execute(chunk);       // bytes consumed (see below)
//   parser.finish();                              // peer EOF: truncated message → onError(HPE_INVALID_EOF_STATE)
//   parser.pause();                               // from a callback: execute() returns after it
//   parser.reset();                               // back to 'head' (e.g. after refusing an upgrade)
//   parser.status                                 // 'head' | 'body' | 'tunnel' | 'closed' | 'failed'
//   parser.idle                                   // no byte of a next message received yet
//   Http1ParseError extends ProxyError (code MESHD_ERR_PROXY_HTTP_PARSE): `reason` (stable HPE_* name,
//   HTTP1_ERROR_REASONS lists them), `status` (request side: 400/413/431/501/505; every response-parser
//   error: 502), `offset`, `detail`. Values reported through onError, never thrown.
//
//   execute(chunk) returns < chunk.length when: a callback paused / onMessageComplete returned true
//   (pipelining: re-feed chunk.subarray(consumed) when ready for the next request); an upgrade or
//   CONNECT request completed (status 'tunnel': the rest is tunnel data); a non-keep-alive message
//   completed (status 'closed': the rest is ignored, as after `Connection: close`); an error.
//   A head in one chunk is parsed in place; a head split over chunks is copied into one buffer
//   (never more than 2 × maxHeaderBytes held). Body chunks are always views of the input (no copy).
//
//   Callbacks run synchronously inside execute()/finish(): do not call execute() or reset() from a
//   callback (pause() is the way to stop), and do not throw from one — an exception propagates out of
//   execute() and leaves the parser mid-message: discard it and close the connection.
//
//   Http1RequestHead: method, target (origin-form; absolute-form reduced to path+query with the
//   authority moved to `authority`; CONNECT: 'host:port'; OPTIONS: '*'), targetForm, authority
//   (absolute-form/CONNECT authority, else Host, '' if none on HTTP/1.0), absoluteScheme, version
//   ('HTTP/1.0' | 'HTTP/1.1'), headers (HeaderList: lower-case names, trimmed values, arrival order),
//   framing ({kind:'none'} | {kind:'length', length} | {kind:'chunked'}), keepAlive, upgrade
//   (lower-case Upgrade value when Connection lists upgrade), expectContinue, headBytes.
//   Field names match hcm/types HttpRequestHead (method, target, authority, headers, version), so
//   `{ ...head, scheme }` is one.
//
//   const rp = new ResponseParser(limits, { onHead(h: Http1ResponseHead), onBody, onTrailers?, onMessageComplete, onError });
//   rp.expectResponse(method)   // before/when the request is written: HEAD → no body, CONNECT 2xx → tunnel.
//                               // One request outstanding at a time (no upstream pipelining): call it
//                               // again only after the previous response completed (parser idle).
//   rp.execute(chunk); rp.finish() // finish() completes a close-delimited body
//   Http1ResponseHead: status, reason, version, headers, framing (+ {kind:'close'}), keepAlive,
//   informational (1xx ≠ 101: onHead is called for it, then again for the final response; no
//   onMessageComplete in between), tunnel (101, or 2xx to CONNECT), headBytes.
//   Bodies are delivered DECODED (de-chunked); the proxy re-frames what it forwards with
//   chunkHeader(n) + data + CHUNK_END … LAST_CHUNK. Re-framing (instead of passing client framing
//   through) is deliberate: the upstream only ever sees framing meshd wrote.
//
//   serializeRequestHead({ method, target, version?, headers }) / serializeResponseHead({ status,
//   reason?, version?, headers }) → latin1 string; throw Http1SerializeError on invalid bytes.
//   chunkHeader(size), CHUNK_END, LAST_CHUNK, lastChunkWithTrailers(trailers).
//   DEFAULT_HTTP1_LIMITS { maxHeaderBytes: 60 KiB, maxHeaderCount: 100, maxChunkLineBytes: 4096 },
//   http1LimitsFromHcm(hcm).
//
// ---- What is rejected (reason → status) --------------------------------------------------------
//   Content-Length + Transfer-Encoding (HPE_UNEXPECTED_CONTENT_LENGTH, 400) — Envoy and llhttp.
//   Content-Length twice, even with equal values (HPE_UNEXPECTED_CONTENT_LENGTH, 400) — llhttp does
//     the same; Envoy's codec would accept equal duplicates. Stricter on purpose: no client needs it.
//   Content-Length not 1*DIGIT or > 2^53-1 (HPE_INVALID_CONTENT_LENGTH, 400): '+5', '5 5', '0x5', '5,5'.
//   Content-Length / Transfer-Encoding values with a tab in their trailing whitespace: rejected, as
//     llhttp does (`chunked\t` is not chunked for llhttp; a trailing space is trimmed by both).
//   Transfer-Encoding other than exactly `chunked` (case-insensitive, after trimming; several TE
//     headers are joined with ',' first) → HPE_INVALID_TRANSFER_ENCODING, 501 — Envoy's rule and
//     status. So 'chunked, gzip', 'gzip, chunked', 'xchunked', 'chunked, chunked', 'chunked ,' are 501,
//     'Chunked' is accepted. TE on CONNECT: 501 (Envoy). TE on HTTP/1.0: 400 (RFC 9112 §6.1).
//   Chunk size: 1*HEXDIG, no sign/0x/whitespace, ≤ 2^53-1 (HPE_INVALID_CHUNK_SIZE); extensions must
//     be `;token[=token|quoted-string]` with no whitespace (HPE_INVALID_CHUNK_EXTENSION); the line is
//     bounded (HPE_CHUNK_EXTENSIONS_OVERFLOW, 413); chunk data must be followed by CRLF (HPE_STRICT).
//   Bare LF anywhere (HPE_CR_EXPECTED), bare CR (HPE_LF_EXPECTED), obs-fold (HPE_OBS_FOLD),
//     header name not a token or whitespace before ':' (HPE_INVALID_HEADER_TOKEN), value bytes
//     outside HTAB/SP/VCHAR/obs-text — NUL, controls, DEL (HPE_INVALID_HEADER_VALUE): all 400.
//   Request line: single SPs (llhttp skips extra spaces: meshd does not), method one of llhttp's
//     methods (node:http METHODS minus PRI, case-sensitive: `get` is 400 — see request-parser.ts),
//     target visible ASCII only,
//     version exactly HTTP/d.d: 1.0 and 1.1 accepted, others 505 (HPE_UNSUPPORTED_VERSION),
//     malformed 400. Targets: origin-form, absolute-form (http/https, no userinfo), authority-form
//     only with CONNECT (host:port), '*' only with OPTIONS; else HPE_INVALID_URL 400.
//   Head over maxHeaderBytes or more than maxHeaderCount fields: HPE_HEADER_OVERFLOW, 431.
//   HTTP/1.1 without Host (HPE_MISSING_HOST), Host twice (HPE_DUPLICATE_HOST), Host with bytes an
//     authority cannot have (HPE_INVALID_HOST): 400 (RFC 9112 §3.2; llhttp does not check Host).
//   Leading empty lines before a request line are skipped (RFC 9112 §2.2), bounded by maxHeaderBytes.
//   Responses: the same field rules; status 3 digits (100-999); CL+TE and duplicate CL rejected;
//     TE ending in chunked → chunked, other TE → close-delimited (RFC 9112 §6.3); bytes while no
//     response is expected → HPE_UNEXPECTED_DATA. Response errors carry status 502.
export { RequestParser } from './request-parser.js';
export type { Http1RequestHead, RequestHandler } from './request-parser.js';
export { ResponseParser } from './response-parser.js';
export type { Http1ResponseHead, ResponseHandler } from './response-parser.js';
export type { BodyFraming, BodyCallbacks, ParserState } from './message-parser.js';
export { Http1ParseError, Http1SerializeError, HTTP1_ERROR_REASONS } from './errors.js';
export type { Http1ErrorReason } from './errors.js';
export { DEFAULT_HTTP1_LIMITS, http1LimitsFromHcm } from './limits.js';
export type { Http1Limits } from './limits.js';
export {
  serializeRequestHead,
  serializeResponseHead,
  chunkHeader,
  CHUNK_END,
  LAST_CHUNK,
  lastChunkWithTrailers,
} from './serialize.js';
export type { RequestHeadToWrite, ResponseHeadToWrite } from './serialize.js';
