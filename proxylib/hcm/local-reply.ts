// Local replies: responses the proxy answers itself (RBAC denial, no route, bad path, upstream
// failures, timeouts). As in Envoy, every local reply passes through the HCM's local_reply_config
// mappers first (meshd's translation maps 403 to the body `Access denied\r\n`), and a gRPC request
// gets a trailers-only response instead: `:status 200`, `content-type: application/grpc`,
// `grpc-status` from the HTTP status, `grpc-message` = the body, percent-encoded.
import type { HcmConfig, RouteEntry } from '../config/types.js';
import type { PickResult } from '../upstream/types.js';

/** Envoy's default local reply bodies, so clients see the same text they would from Envoy. */
export const LOCAL_REPLY_BODY = {
  rbacDenied: 'RBAC: access denied',
  noRoute: '',
  badPath: '',
  upgradeRejected: '',
  noHealthyUpstream: 'no healthy upstream',
  clusterNotFound: '',
  upstreamConnectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  upstreamReset: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  upstreamTimeout: 'upstream request timeout',
  requestHeaderTimeout: 'request header timeout',
  streamIdleTimeout: 'stream timeout',
  requestTimeout: 'request timeout',
} as const;

/**
 * The local reply for a cluster pick that failed, the same for every codec: a cluster the route
 * names but the proxy does not have answers the route's cluster_not_found_response_code (Envoy's
 * default 503); no healthy endpoint (or no original destination) answers 503 "no healthy upstream".
 */
export function upstreamPickFailureReply(route: RouteEntry, reason: Extract<PickResult, { ok: false }>['reason']): { status: number; body: string } {
  if (reason === 'cluster_not_found') {
    const status = route.action.kind === 'route' ? (route.action.clusterNotFoundStatus ?? 503) : 503;
    return { status, body: LOCAL_REPLY_BODY.clusterNotFound };
  }
  return { status: 503, body: LOCAL_REPLY_BODY.noHealthyUpstream };
}

export interface MappedLocalReply {
  status: number;
  body: string;
}

/**
 * Applies the HCM's local reply mappers (first mapper whose status filter matches wins, as Envoy's
 * LocalReplyConfig does) to a reply the proxy is about to send.
 */
export function mapLocalReply(hcm: HcmConfig | undefined, status: number, body: string): MappedLocalReply {
  if (hcm) {
    for (const mapper of hcm.localReplyMappers) {
      if (mapper.whenStatus !== status) continue;
      return { status: mapper.statusOverride ?? status, body: mapper.body ?? body };
    }
  }
  return { status, body };
}

/** gRPC status codes used by the HTTP → gRPC mapping. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNIMPLEMENTED: 12,
  UNAUTHENTICATED: 16,
} as const;

/**
 * The gRPC status a local reply with this HTTP status carries, exactly Envoy's
 * Grpc::Utility::httpToGrpcStatus (which follows grpc/doc/http-grpc-status-mapping.md): a route
 * timeout (504) is UNAVAILABLE there too, not DEADLINE_EXCEEDED.
 */
export function grpcStatusOfHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return GRPC_STATUS.INTERNAL;
    case 401:
      return GRPC_STATUS.UNAUTHENTICATED;
    case 403:
      return GRPC_STATUS.PERMISSION_DENIED;
    case 404:
      return GRPC_STATUS.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_STATUS.UNAVAILABLE;
    default:
      return GRPC_STATUS.UNKNOWN;
  }
}

/** gRPC content types: `application/grpc`, `application/grpc+proto`, `application/grpc;...` (Envoy's check). */
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.length < 16) return false;
  const head = contentType.slice(0, 17).toLowerCase();
  if (!head.startsWith('application/grpc')) return false;
  return head.length === 16 || head[16] === '+' || head[16] === ';';
}

/**
 * grpc-message value: percent-encoding of everything outside printable ASCII and of `%` itself
 * (gRPC's PROTOCOL-HTTP2 spec; Envoy's PercentEncoding::encode does the same).
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    if (byte < 0x20 || byte > 0x7e || byte === 0x25) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

/** The response headers of a gRPC trailers-only local reply (HTTP/2: send with endStream). */
export function grpcLocalReplyHeaders(status: number, body: string): Array<[string, string]> {
  const headers: Array<[string, string]> = [
    ['content-type', 'application/grpc'],
    ['grpc-status', String(grpcStatusOfHttpStatus(status))],
  ];
  if (body !== '') headers.push(['grpc-message', encodeGrpcMessage(body)]);
  return headers;
}
