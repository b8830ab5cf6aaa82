// HTTP/2 and gRPC data path of the built-in proxy: the downstream connection handler (node:http2 on
// the listener's socket, the HCM's decideRequest per stream) and the upstream side: an HTTP/2 session
// pool (many streams per upstream connection, trailers and resets forwarded both ways) for HTTP/2
// clusters, and HTTP/1.1 exchanges over a keep-alive pool for HTTP/1.1 clusters.
//
// Not implemented (answered, never silently mis-forwarded): CONNECT and extended CONNECT (RFC 8441)
// over HTTP/2 are answered 501 once the HCM and RBAC allowed them.
export { createHttp2ConnectionHandler } from './http2-connection.js';
export type { Http2ConnectionHandler, Http2HandlerOptions } from './http2-connection.js';
export { Http2SessionPool } from './http2-session-pool.js';
export type { Http2SessionPoolOptions, Http2SessionPoolStats, OpenStreamOptions } from './http2-session-pool.js';
