// The tls_inspector listener filter: SNI and ALPN from the ClientHello (A's parser) before a filter
// chain is chosen. Bytes that are not a TLS handshake leave the transport as raw_buffer.
import { DEFAULT_MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../codec/index.js';
import type { PeekVerdict } from './peek.js';

export type ClientHelloFacts = { kind: 'tls'; serverName: string; alpn: string[] } | { kind: 'not_tls' } | { kind: 'malformed'; reason: string };

/**
 * Upper bound of bytes read while waiting for a complete ClientHello. The parser itself answers
 * 'malformed' past DEFAULT_MAX_CLIENT_HELLO_BYTES (Envoy's 64 KiB); one more read of slack lets it say so.
 */
export const CLIENT_HELLO_PEEK_LIMIT = DEFAULT_MAX_CLIENT_HELLO_BYTES + 64 * 1024;

export function inspectClientHello(bytes: Buffer): PeekVerdict<ClientHelloFacts> {
  const result = parseClientHello(bytes);
  switch (result.kind) {
    case 'need_more':
      return { done: false };
    case 'tls':
      return { done: true, value: { kind: 'tls', serverName: result.serverName, alpn: result.alpn } };
    case 'not_tls':
      return { done: true, value: { kind: 'not_tls' } };
    case 'malformed':
      return { done: true, value: { kind: 'malformed', reason: result.reason } };
  }
}
