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
  /** Regular headers only (no pseudo-headers), lower-case names. */
  headers: HeaderList;
  version: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
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
    }
  | {
      kind: 'local_reply';
      /** After local reply mappers. */
      status: number;
      body: string;
      reason: 'rbac_denied' | 'no_route' | 'bad_path' | 'escaped_slash' | 'route_table_missing' | 'direct_response';
      policy: string | undefined;
      matchedPath: string;
      isGrpc: boolean;
    };

export interface DecideRequest {
  (hcm: HcmConfig, routes: RouteTable | undefined, head: HttpRequestHead, conn: DownstreamFacts): RequestDecision;
}
