// decideRequest: what the HTTP connection manager does with one request head, in Envoy's order,
// shared by the HTTP/1.1 and HTTP/2 codecs:
//   1. a non-relative path (not CONNECT) → 404, as Envoy ("absolute_path" details);
//   2. path normalization (normalize_path, merge_slashes, path_with_escaped_slashes_action) → 400;
//   3. route selection on the normalized path (Envoy caches the route before creating the filter
//      chain), then the Upgrade/CONNECT check: an upgrade neither the route nor the HCM allows → 403
//      before any HTTP filter runs (Envoy's "upgrade_failed");
//   4. the HTTP RBAC filters in order: the first denial → 403;
//   5. the router: no route → 404, direct_response → its status and body, else forward.
// Every local reply then goes through the local reply mappers. Synchronous; one small object per
// request serves as both the RBAC context and the route request.
import type { HcmConfig, RouteEntry } from '../config/types.js';
import { firstHeaderValue, normalizeRequestPath, pathWithoutQuery } from '../http/index.js';
import type { RbacContext } from '../rbac/types.js';
import type { DecideRequest, DownstreamFacts, HeaderList, RequestDecision } from './types.js';
import { LOCAL_REPLY_BODY, isGrpcContentType, mapLocalReply } from './local-reply.js';

/**
 * What RBAC and the route table see of one request. `:path` is the normalized path with query;
 * url_path the same without query. The Host header is not a header here: HTTP/1.1's Host *is*
 * `:authority` (Envoy's codec turns one into the other), so rules name `:authority`.
 */
class RequestView implements RbacContext {
  readonly directRemoteIp: string;
  readonly directRemotePort: number;
  readonly remoteIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
  readonly requestedServerName: string;
  readonly peerCertificate: DownstreamFacts['peerCertificate'];
  readonly urlPath: string | undefined;
  readonly header: (lowerCaseName: string) => string | undefined;

  constructor(
    facts: DownstreamFacts,
    readonly method: string,
    readonly authority: string,
    readonly scheme: 'http' | 'https',
    /** Normalized path with query ('' for CONNECT, which has none). */
    readonly path: string,
    readonly headers: HeaderList,
    readonly isGrpc: boolean,
  ) {
    this.directRemoteIp = facts.sourceIp;
    this.directRemotePort = facts.sourcePort;
    this.remoteIp = facts.sourceIp;
    this.destinationIp = facts.destinationIp;
    this.destinationPort = facts.destinationPort;
    this.requestedServerName = facts.serverName;
    this.peerCertificate = facts.peerCertificate;
    this.urlPath = path === '' ? undefined : pathWithoutQuery(path);
    this.header = (name) => this.lookup(name);
  }

  private lookup(name: string): string | undefined {
    if (name.charCodeAt(0) === 0x3a /* : */) {
      switch (name) {
        case ':method':
          return this.method;
        case ':path':
          return this.path === '' ? undefined : this.path;
        case ':authority':
          return this.authority;
        case ':scheme':
          return this.scheme;
        default:
          return undefined;
      }
    }
    if (name === 'host') return undefined;
    // Several fields of one name are joined with ',' (Envoy's getAllOfHeaderAsString).
    let value: string | undefined;
    for (const [n, v] of this.headers) {
      if (n !== name) continue;
      value = value === undefined ? v : `${value},${v}`;
    }
    return value;
  }
}

function localReply(
  hcm: HcmConfig,
  status: number,
  body: string,
  reason: Extract<RequestDecision, { kind: 'local_reply' }>['reason'],
  policy: string | undefined,
  matchedPath: string,
  isGrpc: boolean,
): RequestDecision {
  const mapped = mapLocalReply(hcm, status, body);
  return { kind: 'local_reply', status: mapped.status, body: mapped.body, reason, policy, matchedPath, isGrpc };
}

/**
 * Envoy's rule: an upgrade type must be configured in upgrade_configs; a route's entry for it
 * overrides the HCM's `enabled`. CONNECT is the upgrade type "CONNECT". Hand-built configs without
 * `configuredUpgrades` fall back to `upgrades` / `allowConnect`.
 */
function isUpgradeAllowed(hcm: HcmConfig, route: RouteEntry | undefined, upgrade: string): boolean {
  const override = route !== undefined && route.action.kind === 'route' ? route.action.upgrades.get(upgrade) : undefined;
  const configured = hcm.configuredUpgrades;
  if (configured !== undefined) {
    const enabled = configured.get(upgrade);
    if (enabled === undefined) return upgrade === 'connect' && hcm.allowConnect && override !== false;
    return override ?? enabled;
  }
  if (override !== undefined) return override;
  return upgrade === 'connect' ? hcm.allowConnect : hcm.upgrades.has(upgrade);
}

/** strip_any_host_port / strip_matching_host_port and strip_trailing_host_dot, applied before routing. */
function adjustAuthority(hcm: HcmConfig, authority: string, listenerPort: number): string {
  const mode = hcm.stripPortMode;
  const stripDot = hcm.stripTrailingHostDot === true;
  if ((mode === undefined || mode === 'none') && !stripDot) return authority;
  let host = authority;
  let port = '';
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > close && (close >= 0 || authority.indexOf(':') === colon)) {
    host = authority.slice(0, colon);
    port = authority.slice(colon);
  }
  if (stripDot && host.endsWith('.')) host = host.slice(0, -1);
  if (mode === 'any' || (mode === 'matching' && port === `:${listenerPort}`)) port = '';
  return host + port;
}

function hasUnderscore(name: string): boolean {
  return name.indexOf('_') >= 0;
}

export const decideRequest: DecideRequest = (hcm, routes, head, facts) => {
  const isGrpc = isGrpcContentType(firstHeaderValue(head.headers, 'content-type'));
  const isConnect = head.method === 'CONNECT';
  const upgrade = isConnect ? 'connect' : head.upgrade;

  // headers_with_underscores_action (Envoy's codec: reject → 400, drop → the header is removed).
  const underscores = hcm.headersWithUnderscores;
  if (underscores === 'reject_request' || underscores === 'drop_header') {
    if (head.headers.some(([name]) => hasUnderscore(name))) {
      if (underscores === 'reject_request') return localReply(hcm, 400, LOCAL_REPLY_BODY.badPath, 'invalid_header', undefined, head.target, isGrpc);
      head.headers = head.headers.filter(([name]) => !hasUnderscore(name));
    }
  }
  const authority = adjustAuthority(hcm, head.authority, facts.destinationPort);

  let path = '';
  if (!isConnect) {
    // HcmConfig carries the options under the same names: no options object per request.
    const normalized = normalizeRequestPath(head.target, hcm);
    if (!normalized.ok) {
      // A non-relative target (`*`, empty) is 404 in Envoy, a failed normalization 400.
      const reason = normalized.reason === 'escaped_slash' ? 'escaped_slash' : 'bad_path';
      return localReply(hcm, normalized.status, LOCAL_REPLY_BODY.badPath, reason, undefined, head.target, isGrpc);
    }
    path = normalized.path;
  }

  const view = new RequestView(facts, head.method, authority, head.scheme, path, head.headers, isGrpc);
  const route = routes?.select(view);

  if (upgrade !== undefined && !isUpgradeAllowed(hcm, route, upgrade)) {
    return localReply(hcm, 403, LOCAL_REPLY_BODY.upgradeRejected, 'upgrade_rejected', undefined, path, isGrpc);
  }

  let policy: string | undefined;
  for (const filter of hcm.httpFilters) {
    if (filter.kind !== 'rbac') continue;
    const decision = filter.rbac.evaluate(view);
    if (!decision.allowed) return localReply(hcm, 403, LOCAL_REPLY_BODY.rbacDenied, 'rbac_denied', decision.policy, path, isGrpc);
    // The flow record names the policy that let the request through; with a DENY filter before an
    // ALLOW filter (meshd's translation) the ALLOW filter's policy is the interesting one.
    if (decision.policy !== undefined && filter.rbac.action === 'ALLOW') policy = decision.policy;
  }

  if (routes === undefined) return localReply(hcm, 404, LOCAL_REPLY_BODY.noRoute, 'route_table_missing', policy, path, isGrpc);
  if (route === undefined) return localReply(hcm, 404, LOCAL_REPLY_BODY.noRoute, 'no_route', policy, path, isGrpc);
  const action = route.action;
  if (action.kind === 'direct_response') return localReply(hcm, action.status, action.body, 'direct_response', policy, path, isGrpc);

  return {
    kind: 'forward',
    route,
    cluster: action.cluster(),
    path: isConnect ? '' : action.rewritePath(path),
    matchedPath: path,
    authority: action.hostRewriteLiteral ?? authority,
    timeoutMs: action.timeoutMs,
    policy,
    isGrpc,
    upgrade,
  };
};
