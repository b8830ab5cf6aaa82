// Header blocks between the downstream and the upstream HTTP/2 stream. Request headers are built
// from the decision's view of the request (HttpRequestHead.headers after decideRequest, so a header
// the HCM dropped — headers_with_underscores_action: drop_header — is not forwarded), not from the
// raw block. Connection-specific fields (RFC 9113 §8.2.2) never cross the proxy.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { HcmConfig } from '../config/types.js';
import type { HeaderList } from '../hcm/index.js';

/** Connection-specific fields plus `host` (HTTP/2 carries it as :authority); `te` is handled apart. */
const NOT_FORWARDED: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/**
 * Fields node:http2 refuses to send more than once (lib/internal/http2/util.js kSingleValueHeaders).
 * A client that repeats one gets the first value forwarded, as node:http2's own header object keeps.
 */
const SINGLE_VALUE: ReadonlySet<string> = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age', 'authorization',
  'content-encoding', 'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type',
  'date', 'dnt', 'etag', 'expires', 'from', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'range', 'referer', 'retry-after', 'tk',
  'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
]);

export interface UpstreamRequestInput {
  method: string;
  scheme: 'http' | 'https';
  authority: string;
  path: string;
  headers: HeaderList;
  /** x-forwarded-proto to set (overwriting the client's), or undefined to forward it as received. */
  forwardedProto: 'http' | 'https' | undefined;
  /** Address appended to x-forwarded-for, or undefined (skip_xff_append). */
  appendForwardedFor: string | undefined;
  /** generate_request_id: add x-request-id when the request has none. */
  generateRequestId: boolean;
}

export function upstreamRequestHeaders(input: UpstreamRequestInput): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': input.method,
    ':scheme': input.scheme,
    ':authority': input.authority,
    ':path': input.path,
  };
  for (const [name, value] of input.headers) {
    if (NOT_FORWARDED.has(name)) continue;
    if (name === 'x-forwarded-proto' && input.forwardedProto !== undefined) continue;
    // `te: trailers` is end-to-end (gRPC needs it); any other TE value is hop-by-hop.
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    const previous = out[name];
    if (name === 'x-forwarded-for') {
      out[name] = previous === undefined ? value : `${String(previous)}, ${value}`;
      continue;
    }
    if (previous === undefined) out[name] = value;
    else if (SINGLE_VALUE.has(name)) continue;
    else if (name === 'cookie') out[name] = `${String(previous)}; ${value}`; // RFC 9113 §8.2.3
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [String(previous), value];
  }
  if (input.generateRequestId && out['x-request-id'] === undefined) out['x-request-id'] = randomUUID();
  if (input.forwardedProto !== undefined) out['x-forwarded-proto'] = input.forwardedProto;
  if (input.appendForwardedFor !== undefined) {
    const xff = out['x-forwarded-for'];
    out['x-forwarded-for'] = xff === undefined ? input.appendForwardedFor : `${String(xff)}, ${input.appendForwardedFor}`;
  }
  return out;
}

/** Response or trailer fields forwarded downstream: pseudo-headers other than :status and connection-specific fields dropped. */
export function downstreamHeaders(headers: IncomingHttpHeaders, keepStatus: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      if (keepStatus && name === ':status') out[name] = headers[name];
      continue;
    }
    if (NOT_FORWARDED.has(name) || name === 'te') continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Envoy's server_header_transformation on a response block (default overwrite with the HCM's server_name). */
export function applyServerHeader(headers: OutgoingHttpHeaders, hcm: HcmConfig): void {
  const mode = hcm.serverHeader ?? 'overwrite';
  if (hcm.serverName === '' || mode === 'pass_through') return;
  if (mode === 'overwrite' || headers.server === undefined) headers.server = hcm.serverName;
}

/** Reads `grpc-status` from a header or trailer block; undefined when absent or not a number. */
export function grpcStatusOf(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['grpc-status'];
  return typeof value === 'string' && /^[0-9]{1,3}$/.test(value) ? Number(value) : undefined;
}

/** Fields for an HTTP/1.1 upstream request head (host and framing are added by the exchange). */
export function http1RequestFields(
  headers: HeaderList,
  options: { forwardedProto: 'http' | 'https' | undefined; appendForwardedFor: string | undefined; generateRequestId: boolean },
): HeaderList {
  const out: HeaderList = [];
  let hasRequestId = false;
  let xff: string | undefined;
  for (const [name, value] of headers) {
    if (NOT_FORWARDED.has(name) || name === 'content-length') continue;
    if (name === 'x-forwarded-proto' && options.forwardedProto !== undefined) continue;
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue;
    if (name === 'x-forwarded-for' && options.appendForwardedFor !== undefined) {
      xff = xff === undefined ? value : `${xff}, ${value}`;
      continue;
    }
    if (name === 'x-request-id') hasRequestId = true;
    out.push([name, value]);
  }
  if (options.generateRequestId && !hasRequestId) out.push(['x-request-id', randomUUID()]);
  if (options.forwardedProto !== undefined) out.push(['x-forwarded-proto', options.forwardedProto]);
  if (options.appendForwardedFor !== undefined) out.push(['x-forwarded-for', xff === undefined ? options.appendForwardedFor : `${xff}, ${options.appendForwardedFor}`]);
  return out;
}

/** Request trailers of an HTTP/2 stream as HTTP/1.1 trailer fields (pseudo-headers dropped). */
export function http1TrailerFields(trailers: IncomingHttpHeaders): HeaderList {
  const out: HeaderList = [];
  for (const name in trailers) {
    if (name.charCodeAt(0) === 0x3a) continue;
    const value = trailers[name];
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else if (value !== undefined) out.push([name, value]);
  }
  return out;
}

/** An HTTP/1.1 field list as an HTTP/2 header block: repeats become arrays (first value for single-value fields). */
export function http2Fields(fields: HeaderList): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of fields) {
    if (NOT_FORWARDED.has(name) || name === 'te') continue;
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else if (SINGLE_VALUE.has(name)) continue;
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [String(previous), value];
  }
  return out;
}
