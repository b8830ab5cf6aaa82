// The HTTP connection manager's decision for one request, shared by the HTTP/1.1 and HTTP/2 codecs:
// path normalization, the HTTP filters (RBAC), then the route. Protocol-independent and synchronous.
import type { HcmConfig, RouteEntry, RouteTable } from '../config/types.js';

/** Lower-case name, value; in arrival order; repeated names stay separate entries. */
export type HeaderList = Array<[name: string, value: string]>;

export interface HttpRequestHead {
  method: string;
  /** The request target as received (origin-form; absolute-form already reduced to path by the codec). */
  target: string;
  /** Host (HTTP/1.1) or :authority (HTTP/2). */
  authority: string;
  scheme: 'http' | 'https';
  /**
   * Regular headers only (no pseudo-headers), lower-case names. decideRequest REPLACES this list
   * (a new array) when headers_with_underscores_action is DROP_HEADER and a name has '_': forward
   * `head.headers` as it is after the decision.
   */
  headers: HeaderList;
  version: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  /**
   * The protocol the request asks to switch to, lower-case: HTTP/1.1 `Upgrade` (with `Connection:
   * upgrade`), HTTP/2 extended CONNECT's `:protocol`. undefined for an ordinary request and for plain
   * CONNECT (method CONNECT is checked against HcmConfig.allowConnect).
   */
  upgrade?: string | undefined;
}

/** Facts of the downstream connection a request arrived on. */
export interface DownstreamFacts {
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
  serverName: string;
  peerCertificate?: { subject: string; uriSans: readonly string[]; dnsSans: readonly string[] };
}

export type RequestDecision =
  | {
      kind: 'forward';
      route: RouteEntry;
      cluster: string;
      /** Normalized (and route-rewritten) path with query: what is sent upstream. */
      path: string;
      /** The normalized path that RBAC and the route matched (before route rewrites). */
      matchedPath: string;
      authority: string;
      timeoutMs: number;
      /** The RBAC policy that allowed, for the flow record. */
      policy: string | undefined;
      isGrpc: boolean;
      /** The allowed upgrade ('websocket', ...) or 'connect' for an allowed CONNECT; undefined otherwise. */
      upgrade: string | undefined;
    }
  | {
      kind: 'local_reply';
      /** After local reply mappers. */
      status: number;
      body: string;
      /** `bad_path` is also a non-relative path (404, as Envoy); `upgrade_rejected` an Upgrade/CONNECT the
       *  HCM and route do not allow (403, as Envoy, before the HTTP filters run); `invalid_header` a header
       *  name with '_' under headers_with_underscores_action REJECT_REQUEST (400). */
      reason: 'rbac_denied' | 'no_route' | 'bad_path' | 'escaped_slash' | 'route_table_missing' | 'direct_response' | 'upgrade_rejected' | 'invalid_header';
      policy: string | undefined;
      matchedPath: string;
      isGrpc: boolean;
    };

export interface DecideRequest {
  (hcm: HcmConfig, routes: RouteTable | undefined, head: HttpRequestHead, conn: DownstreamFacts): RequestDecision;
}
