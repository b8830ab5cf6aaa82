// Serializing the heads the HTTP/1.1 data path writes: the request head sent upstream, the response
// head sent downstream, and local replies. Header names go out lower-case, as Envoy's HTTP/1.1 codec
// writes them (header_key_format default). Hop-by-hop headers are dropped in both directions and the
// proxy writes its own framing (Content-Length or chunked), so framing the peer sent can never reach
// the other side: that is the smuggling defence on top of the strict parser.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { BodyFraming as MessageFraming } from '../codec/index.js';
import type { HcmConfig } from '../config/types.js';
import { grpcLocalReplyHeaders } from '../hcm/index.js';
import type { HeaderList } from '../hcm/index.js';
import { HOP_BY_HOP_HEADERS, isHopByHopHeader } from '../http/index.js';

/** Request framing the proxy writes upstream (a request body never runs to the connection's end). */
export type BodyFraming = Exclude<MessageFraming, { kind: 'close' }>;

/**
 * Request headers never copied upstream as received: hop-by-hop ones (but `te: trailers`), Host
 * (written first from the decision's authority), Content-Length (the proxy writes its own framing),
 * and Expect (the proxy answers `100 Continue` itself, Envoy's default with proxy_100_continue off).
 */
const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, 'host', 'content-length', 'expect']);

export interface UpstreamRequestHeadInput {
  method: string;
  path: string;
  authority: string;
  headers: HeaderList;
  framing: BodyFraming;
  /** Upgrade value to keep (an allowed WebSocket upgrade), or undefined. */
  upgrade: string | undefined;
  /** The original Upgrade header value (case kept), for an allowed upgrade. */
  upgradeHeader: string | undefined;
  /** x-forwarded-proto to set, or undefined to leave the header as received. */
  forwardedProto: string | undefined;
  /** Address to append to x-forwarded-for, or undefined (skip_xff_append). */
  appendForwardedFor: string | undefined;
  /** Adds x-request-id (a UUID) when the request has none (Envoy's generate_request_id default). */
  generateRequestId: boolean;
  /** proxy_100_continue: forward Expect instead of answering 100 Continue locally. */
  keepExpect: boolean;
}

export function serializeUpstreamRequestHead(input: UpstreamRequestHeadInput): string {
  // CONNECT carries its authority as the target (RFC 9110 §9.3.6).
  let head = input.method === 'CONNECT' ? `CONNECT ${input.authority} HTTP/1.1\r\nhost: ${input.authority}\r\n` : `${input.method} ${input.path} HTTP/1.1\r\nhost: ${input.authority}\r\n`;
  let xff: string | undefined;
  let hasRequestId = false;
  for (const [name, value] of input.headers) {
    if (DROPPED_REQUEST_HEADERS.has(name)) {
      // Two are dropped only conditionally: `te: trailers` is end-to-end (gRPC needs it), and Expect
      // goes upstream with proxy_100_continue.
      const isKept = name === 'te' ? !isHopByHopHeader(name, value) : name === 'expect' && input.keepExpect;
      if (!isKept) continue;
    } else if (name === 'x-forwarded-proto' && input.forwardedProto !== undefined) continue;
    else if (name === 'x-forwarded-for' && input.appendForwardedFor !== undefined) {
      xff = xff === undefined ? value : `${xff}, ${value}`;
      continue;
    } else if (name === 'x-request-id') hasRequestId = true;
    head += `${name}: ${value}\r\n`;
  }
  if (input.generateRequestId && !hasRequestId) head += `x-request-id: ${randomUUID()}\r\n`;
  if (input.forwardedProto !== undefined) head += `x-forwarded-proto: ${input.forwardedProto}\r\n`;
  if (input.appendForwardedFor !== undefined) head += `x-forwarded-for: ${xff === undefined ? input.appendForwardedFor : `${xff}, ${input.appendForwardedFor}`}\r\n`;
  if (input.upgrade !== undefined) head += `connection: upgrade\r\nupgrade: ${input.upgradeHeader ?? input.upgrade}\r\n`;
  if (input.framing.kind === 'length') head += `content-length: ${input.framing.length}\r\n`;
  else if (input.framing.kind === 'chunked') head += 'transfer-encoding: chunked\r\n';
  return head + '\r\n';
}

/**
 * Response headers the proxy never copies downstream as received (it writes its own framing and
 * connection handling): the hop-by-hop ones and Content-Length. TE is a request header; a response
 * carrying one passes it on unchanged.
 */
const DROPPED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, 'content-length'].filter((name) => name !== 'te'));

export interface DownstreamResponseHeadInput {
  status: number;
  headers: HeaderList;
  /** How the proxy frames the body it sends downstream. 'close' = ends with the connection (HTTP/1.0). */
  framing: MessageFraming;
  /** Keep the Content-Length the upstream sent even though no body follows (HEAD, 304). */
  contentLengthWithoutBody: string | undefined;
  connection: 'close' | 'keep-alive' | undefined;
  /** 101 Switching Protocols: the Upgrade value to pass on. */
  upgradeHeader: string | undefined;
  /** HCM server_name, written per server_header_transformation. */
  serverName: string;
  /** Envoy's server_header_transformation: overwrite (default), append_if_absent, pass_through. */
  serverHeader: 'overwrite' | 'append_if_absent' | 'pass_through';
}

export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Unknown';
}

export function serializeDownstreamResponseHead(input: DownstreamResponseHeadInput): string {
  let head = `HTTP/1.1 ${input.status} ${reasonPhrase(input.status)}\r\n`;
  const overwriteServer = input.serverHeader === 'overwrite' && input.serverName !== '';
  let hasServer = false;
  for (const [name, value] of input.headers) {
    if (DROPPED_RESPONSE_HEADERS.has(name)) continue;
    if (name === 'server') {
      if (overwriteServer) continue;
      hasServer = true;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (overwriteServer || (input.serverHeader === 'append_if_absent' && !hasServer && input.serverName !== '')) head += `server: ${input.serverName}\r\n`;
  if (input.framing.kind === 'length') head += `content-length: ${input.framing.length}\r\n`;
  else if (input.framing.kind === 'chunked') head += 'transfer-encoding: chunked\r\n';
  else if (input.contentLengthWithoutBody !== undefined) head += `content-length: ${input.contentLengthWithoutBody}\r\n`;
  if (input.upgradeHeader !== undefined) head += `connection: upgrade\r\nupgrade: ${input.upgradeHeader}\r\n`;
  else if (input.connection !== undefined) head += `connection: ${input.connection}\r\n`;
  return head + '\r\n';
}

/** `date` for local replies, recomputed at most once a second. */
let cachedDate = '';
let cachedDateSecond = -1;
function httpDate(): string {
  const nowMs = Date.now();
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedDateSecond) {
    cachedDateSecond = second;
    cachedDate = new Date(nowMs).toUTCString();
  }
  return cachedDate;
}

export interface LocalReplyInput {
  status: number;
  body: string;
  isGrpc: boolean;
  /** HEAD: Content-Length but no body. */
  isHead: boolean;
  connection: 'close' | 'keep-alive' | undefined;
  hcm: HcmConfig | undefined;
}

/**
 * A local reply as Envoy writes it: text/plain body with Content-Length; for gRPC a trailers-only
 * response (`200`, grpc-status from the HTTP status, grpc-message = the body) with no body.
 */
export function serializeLocalReply(input: LocalReplyInput): Buffer {
  const serverName = input.hcm?.serverName ?? '';
  let head: string;
  let body = '';
  if (input.isGrpc) {
    head = 'HTTP/1.1 200 OK\r\n';
    for (const [name, value] of grpcLocalReplyHeaders(input.status, input.body)) head += `${name}: ${value}\r\n`;
    head += 'content-length: 0\r\n';
  } else {
    head = `HTTP/1.1 ${input.status} ${reasonPhrase(input.status)}\r\n`;
    const hasBody = input.body.length > 0 && input.status !== 204 && input.status !== 304;
    if (hasBody) {
      head += `content-length: ${Buffer.byteLength(input.body)}\r\ncontent-type: text/plain\r\n`;
      if (!input.isHead) body = input.body;
    } else if (input.status !== 204 && input.status !== 304) head += 'content-length: 0\r\n';
  }
  head += `date: ${httpDate()}\r\n`;
  if (serverName !== '') head += `server: ${serverName}\r\n`;
  if (input.connection !== undefined) head += `connection: ${input.connection}\r\n`;
  const headBytes = Buffer.from(`${head}\r\n`, 'latin1');
  return body === '' ? headBytes : Buffer.concat([headBytes, Buffer.from(body, 'utf8')]);
}

const CRLF = '\r\n';

/** Writes one chunk of a chunked body (size line, data, CRLF) without copying the data. */
export function writeChunkTo(socket: Socket, data: Buffer): boolean {
  if (data.length === 0) return true;
  socket.write(`${data.length.toString(16)}\r\n`, 'latin1');
  socket.write(data);
  return socket.write(CRLF, 'latin1');
}
