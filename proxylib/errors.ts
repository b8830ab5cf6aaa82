// Errors of the built-in proxy (proxylib). Codes are append-only (one line per code, never renamed
// or reused) and each has a section in docs/errors.md; callers match on `code`, never on the class,
// because errors cross the agent → CLI boundary as JSON.
import { MeshdError } from '../policy/index.js';

export const PROXY_ERROR_CODES = {
  MESHD_ERR_PROXY_CONFIG_REJECTED: 'an xDS update the built-in proxy cannot run (NACKed; the previous configuration stays in force)',
  MESHD_ERR_PROXY_XDS_CONNECT: 'the proxy could not reach its xDS server, or the stream to it broke',
  MESHD_ERR_PROXY_XDS_PROTOCOL: 'the xDS server sent a response the delta protocol does not allow',
  MESHD_ERR_PROXY_NOT_READY: 'the proxy did not receive its first complete configuration in time',
  MESHD_ERR_PROXY_BIND: 'a listener or the admin server could not listen on its address',
  MESHD_ERR_PROXY_BAD_ADDRESS: 'an address that is neither unix:/path nor host:port',
  MESHD_ERR_PROXY_UPSTREAM_CONNECT: 'an upstream connection could not be opened (refused, reset or timed out)',
  MESHD_ERR_PROXY_UPSTREAM_TLS: 'TLS origination to an upstream failed (handshake, untrusted certificate, SAN mismatch)',
  MESHD_ERR_PROXY_NO_HEALTHY_UPSTREAM: 'a cluster with no endpoint to send the request to',
  MESHD_ERR_PROXY_UNKNOWN_CLUSTER: 'a route or tcp_proxy names a cluster the proxy does not have',
  MESHD_ERR_PROXY_TLS_MATERIAL: 'a certificate, key or CA the proxy could not load',
  MESHD_ERR_PROXY_TRANSPARENT: 'transparent mode could not open the kernel datapath maps',
  MESHD_ERR_PROXY_CLOSED: 'the proxy was used after close()',
  MESHD_ERR_PROXY_HTTP_PARSE: 'a peer sent bytes that are not valid HTTP/1.1 (the request or response is rejected; `reason` says why)',
  MESHD_ERR_PROXY_HTTP_SERIALIZE: 'a header name, value, method or target that cannot be written as HTTP/1.1',
} as const;

export type ProxyErrorCode = keyof typeof PROXY_ERROR_CODES;

export class ProxyError extends MeshdError {
  override readonly code: ProxyErrorCode;
  constructor(code: ProxyErrorCode, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'ProxyError';
    this.code = code;
  }
}
