// Writing HTTP/1.1 heads and chunk framing. Everything written is validated: a header name that is
// not a token or a value with CR/LF/NUL would let config or an upstream inject headers downstream.
import type { HeaderList } from '../../hcm/types.js';
import { isValidHeaderName, isValidHeaderValue } from '../../http/index.js';
import { STATUS_CODES } from 'node:http';
import { Http1SerializeError } from './errors.js';

export interface RequestHeadToWrite {
  method: string;
  /** Origin-form (or authority-form for CONNECT); visible ASCII only. */
  target: string;
  version?: 'HTTP/1.0' | 'HTTP/1.1';
  /** Written in order, names as given (Envoy writes lower-case names; so do we when they come from the parser). */
  headers: HeaderList;
}

export interface ResponseHeadToWrite {
  status: number;
  /** Defaults to node's STATUS_CODES text (or '' when unknown). */
  reason?: string;
  version?: 'HTTP/1.0' | 'HTTP/1.1';
  headers: HeaderList;
}

function writeHeaders(parts: string[], headers: HeaderList): void {
  for (const [name, value] of headers) {
    if (!isValidHeaderName(name)) throw new Http1SerializeError(`invalid header name ${JSON.stringify(name.slice(0, 60))}`);
    if (!isValidHeaderValue(value)) throw new Http1SerializeError(`invalid value for header ${name}`);
    parts.push(name, ': ', value, '\r\n');
  }
  parts.push('\r\n');
}

function isVisibleAscii(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/** The request head as a latin1 string (write it with `socket.write(s, 'latin1')`). */
export function serializeRequestHead(head: RequestHeadToWrite): string {
  if (!isValidHeaderName(head.method)) throw new Http1SerializeError(`invalid method ${JSON.stringify(head.method.slice(0, 40))}`);
  if (!isVisibleAscii(head.target)) throw new Http1SerializeError(`invalid request target ${JSON.stringify(head.target.slice(0, 80))}`);
  const parts = [head.method, ' ', head.target, ' ', head.version ?? 'HTTP/1.1', '\r\n'];
  writeHeaders(parts, head.headers);
  return parts.join('');
}

/** The response head as a latin1 string (write it with `socket.write(s, 'latin1')`). */
export function serializeResponseHead(head: ResponseHeadToWrite): string {
  if (!Number.isInteger(head.status) || head.status < 100 || head.status > 999) throw new Http1SerializeError(`invalid status ${head.status}`);
  const reason = head.reason ?? STATUS_CODES[head.status] ?? '';
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if (c > 0xff || (c < 0x20 && c !== 0x09) || c === 0x7f) throw new Http1SerializeError('invalid reason phrase');
  }
  const parts = [head.version ?? 'HTTP/1.1', ' ', String(head.status), ' ', reason, '\r\n'];
  writeHeaders(parts, head.headers);
  return parts.join('');
}

/** The line before a chunk of `size` bytes (size > 0): hex size + CRLF. */
export function chunkHeader(size: number): string {
  return `${size.toString(16)}\r\n`;
}

/** Written after each chunk's data. */
export const CHUNK_END = '\r\n';

/** The last chunk with no trailers. */
export const LAST_CHUNK = '0\r\n\r\n';

/** The last chunk followed by trailer fields (validated). */
export function lastChunkWithTrailers(trailers: HeaderList): string {
  const parts = ['0\r\n'];
  writeHeaders(parts, trailers);
  return parts.join('');
}
