// proxylib/codec/tls-hello — SNI and ALPN from a TLS ClientHello (tls_inspector). Stable API (owner A):
//
//   parseClientHello(bytes: Uint8Array, maxBytes = DEFAULT_MAX_CLIENT_HELLO_BYTES /* 64 KiB */): ClientHelloResult
//     { kind: 'tls', serverName /* lower-case, '' if none */, alpn /* offer order, [] if none */, length }
//     | { kind: 'not_tls' } | { kind: 'need_more', needed } | { kind: 'malformed', reason }
//   Call it with ALL bytes read so far (it keeps no state); on 'need_more' read more (bounded by
//   maxBytes and the listener's timeout) and call again. Never throws. See client-hello.ts.
export { parseClientHello, DEFAULT_MAX_CLIENT_HELLO_BYTES } from './client-hello.js';
export type { ClientHelloResult } from './client-hello.js';
