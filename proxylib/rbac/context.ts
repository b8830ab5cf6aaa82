// Building the RbacContext of one HTTP request from what the codecs and the listener know. Shared
// by the HTTP/1.1 and HTTP/2 paths (through decideRequest) so both present headers to RBAC the
// same way Envoy's header map does.
import type { DownstreamFacts, HttpRequestHead } from '../hcm/types.js';
import type { RbacContext } from './types.js';

/**
 * `path` is the normalized path with its query (what `:path` holds after Envoy's normalization).
 * Header values of a repeated name are joined with ',' (Envoy's getAllOfHeaderAsString); the
 * pseudo-headers are `:method`, `:path`, `:authority` (also reachable as `host`) and `:scheme`.
 */
export function rbacContextOfRequest(facts: DownstreamFacts, head: HttpRequestHead, path: string, downstreamTls = false): RbacContext {
  const { headers } = head;
  const header = (name: string): string | undefined => {
    switch (name) {
      case ':method':
        return head.method;
      case ':path':
        return path;
      case ':authority':
      case 'host':
        return head.authority === '' ? undefined : head.authority;
      case ':scheme':
        return head.scheme;
    }
    let value: string | undefined;
    for (let i = 0; i < headers.length; i++) {
      const entry = headers[i]!;
      if (entry[0] === name) value = value === undefined ? entry[1] : `${value},${entry[1]}`;
    }
    return value;
  };
  const ctx: RbacContext = {
    directRemoteIp: facts.sourceIp,
    directRemotePort: facts.sourcePort,
    remoteIp: facts.sourceIp,
    destinationIp: facts.destinationIp,
    destinationPort: facts.destinationPort,
    requestedServerName: facts.serverName,
    downstreamTls,
    header,
    urlPath: stripQueryAndFragment(path),
  };
  if (facts.peerCertificate !== undefined) ctx.peerCertificate = facts.peerCertificate;
  return ctx;
}

/** The path without `?query` and `#fragment` (Envoy's PathUtil::removeQueryAndFragment). */
export function stripQueryAndFragment(path: string): string {
  let end = path.length;
  const q = path.indexOf('?');
  if (q >= 0) end = q;
  const h = path.indexOf('#');
  if (h >= 0 && h < end) end = h;
  return end === path.length ? path : path.slice(0, end);
}
