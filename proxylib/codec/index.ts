// Public entry of proxylib/codec (owner A): the wire codecs of the built-in proxy.
//   http1/     — strict incremental HTTP/1.1 request/response parser and serializers (see http1/index.ts)
//   tls-hello/ — SNI/ALPN from a TLS ClientHello, for tls_inspector (see tls-hello/index.ts)
export * from './http1/index.js';
export * from './tls-hello/index.js';
