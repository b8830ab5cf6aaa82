import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { HcmConfig, HttpFilterConfig, RouteEntry, RouteRequest, RouteTable } from '../config/types.js';
import type { RbacContext, RbacFilter } from '../rbac/types.js';
import { decideRequest } from './decide-request.js';
import { grpcLocalReplyHeaders, grpcStatusOfHttpStatus, isGrpcContentType, mapLocalReply } from './local-reply.js';
import type { DownstreamFacts, HttpRequestHead } from './types.js';
import { hcmConfig } from '../../test/proxy/listener-fixtures.js';

// Hand-built config objects (plain interfaces): the compiled forms C1 and B produce have this shape.

function routeEntry(name: string, cluster: string, extra: Partial<{ prefixRewrite: string; host: string; timeoutMs: number; upgrades: Map<string, boolean> }> = {}): RouteEntry {
  return {
    name,
    virtualHost: 'vh',
    action: {
      kind: 'route',
      cluster: () => cluster,
      timeoutMs: extra.timeoutMs ?? 15_000,
      idleTimeoutMs: 0,
      rewritePath: (p) => (extra.prefixRewrite !== undefined && p.startsWith('/api/') ? extra.prefixRewrite + p.slice('/api/'.length) : p),
      hostRewriteLiteral: extra.host,
      upgrades: extra.upgrades ?? new Map(),
    },
  };
}

/** A route table: first entry whose prefix matches the path wins; `seen` records what it was asked. */
function prefixTable(entries: Array<[prefix: string, entry: RouteEntry]>, seen: RouteRequest[] = []): RouteTable {
  return {
    name: 'routes',
    select(request) {
      seen.push(request);
      return entries.find(([prefix]) => request.path.startsWith(prefix))?.[1];
    },
  };
}

/** An RBAC filter whose policies are predicates over the context (B's compiled filters evaluate the same context). */
function rbac(name: string, action: 'ALLOW' | 'DENY', policies: Record<string, (ctx: RbacContext) => boolean>, seen: RbacContext[] = []): HttpFilterConfig {
  const filter: RbacFilter = {
    name,
    action,
    evaluate(ctx) {
      seen.push(ctx);
      const matched = Object.keys(policies)
        .sort()
        .find((p) => policies[p]!(ctx));
      return action === 'ALLOW' ? { allowed: matched !== undefined, policy: matched } : { allowed: matched === undefined, policy: matched };
    },
  };
  return { kind: 'rbac', name, rbac: filter };
}

/** The listener fixtures' HCM as a translated one: routes over RDS, escaped slashes rejected, the 403 local reply. */
function hcm(overrides: Partial<HcmConfig> = {}): HcmConfig {
  return hcmConfig({
    statPrefix: 'test',
    routes: { kind: 'rds', name: 'routes' },
    escapedSlashes: 'reject',
    localReplyMappers: [{ whenStatus: 403, statusOverride: undefined, body: 'Access denied\r\n' }],
    serverName: 'envoy',
    ...overrides,
  });
}

function head(target: string, extra: Partial<HttpRequestHead> = {}): HttpRequestHead {
  return { method: 'GET', target, authority: 'svc.local:8080', scheme: 'http', headers: [], version: 'HTTP/1.1', ...extra };
}

const facts: DownstreamFacts = { sourceIp: '10.0.0.1', sourcePort: 40000, destinationIp: '10.0.0.2', destinationPort: 8080, serverName: '' };

const allowPublicOnly = rbac('rbac-allow', 'ALLOW', { 'allow-public': (ctx) => ctx.urlPath?.startsWith('/public/') === true });
const table = prefixTable([['/', routeEntry('all', 'backend')]]);

describe('decideRequest', () => {
  test('an allowed request is forwarded with the normalized path, the route cluster and the allowing policy', () => {
    const d = decideRequest(hcm({ httpFilters: [allowPublicOnly, { kind: 'router', name: 'router' }] }), table, head('/public/./a//b?x=1'), facts);
    assert.equal(d.kind, 'forward');
    if (d.kind !== 'forward') return;
    assert.equal(d.cluster, 'backend');
    assert.equal(d.path, '/public/a/b?x=1');
    assert.equal(d.matchedPath, '/public/a/b?x=1');
    assert.equal(d.policy, 'allow-public');
    assert.equal(d.authority, 'svc.local:8080');
    assert.equal(d.timeoutMs, 15_000);
    assert.equal(d.upgrade, undefined);
  });

  test('a request no ALLOW policy matches is denied with 403 and the mapped body Access denied', () => {
    const d = decideRequest(hcm({ httpFilters: [allowPublicOnly] }), table, head('/admin'), facts);
    assert.deepEqual(
      { kind: d.kind, status: d.kind === 'local_reply' ? d.status : 0, body: d.kind === 'local_reply' ? d.body : '', reason: d.kind === 'local_reply' ? d.reason : '' },
      { kind: 'local_reply', status: 403, body: 'Access denied\r\n', reason: 'rbac_denied' },
    );
  });

  test('the dot-segment bypass /public/../admin is decided on /admin and denied', () => {
    const d = decideRequest(hcm({ httpFilters: [allowPublicOnly] }), table, head('/public/../admin'), facts);
    assert.equal(d.kind, 'local_reply');
    assert.equal(d.kind === 'local_reply' && d.reason, 'rbac_denied');
    assert.equal(d.matchedPath, '/admin');
  });

  test('an escaped slash is refused with 400 when the HCM rejects escaped slashes', () => {
    const d = decideRequest(hcm(), table, head('/public%2F..%2Fadmin'), facts);
    assert.equal(d.kind, 'local_reply');
    if (d.kind !== 'local_reply') return;
    assert.equal(d.status, 400);
    assert.equal(d.reason, 'escaped_slash');
  });

  test('a DENY filter before the ALLOW filter denies first and names the denying policy', () => {
    const deny = rbac('rbac-deny', 'DENY', { 'deny-delete': (ctx) => ctx.header?.(':method') === 'DELETE' });
    const allowAll = rbac('rbac-allow', 'ALLOW', { 'allow-all': () => true });
    const filters = [deny, allowAll, { kind: 'router' as const, name: 'router' }];
    const denied = decideRequest(hcm({ httpFilters: filters }), table, head('/x', { method: 'DELETE' }), facts);
    assert.equal(denied.kind, 'local_reply');
    assert.equal(denied.policy, 'deny-delete');
    const allowed = decideRequest(hcm({ httpFilters: filters }), table, head('/x'), facts);
    assert.equal(allowed.kind, 'forward');
    assert.equal(allowed.policy, 'allow-all');
  });

  test('RBAC sees pseudo-headers, joined repeated headers, connection facts and url_path without the query', () => {
    const seen: RbacContext[] = [];
    const filter = rbac('rbac', 'ALLOW', { any: () => true }, seen);
    decideRequest(
      hcm({ httpFilters: [filter] }),
      table,
      head('/a/%7Euser?q=%2F', { method: 'POST', headers: [['x-team', 'a'], ['host', 'svc.local:8080'], ['x-team', 'b']], scheme: 'https' }),
      { ...facts, serverName: 'svc.local' },
    );
    const ctx = seen[0]!;
    assert.equal(ctx.header?.(':method'), 'POST');
    assert.equal(ctx.header?.(':path'), '/a/~user?q=%2F');
    assert.equal(ctx.header?.(':authority'), 'svc.local:8080');
    assert.equal(ctx.header?.(':scheme'), 'https');
    assert.equal(ctx.header?.('x-team'), 'a,b');
    assert.equal(ctx.header?.('host'), undefined, 'Host is :authority, as in Envoy');
    assert.equal(ctx.header?.('x-missing'), undefined);
    assert.equal(ctx.urlPath, '/a/~user');
    assert.equal(ctx.directRemoteIp, '10.0.0.1');
    assert.equal(ctx.remoteIp, '10.0.0.1');
    assert.equal(ctx.destinationPort, 8080);
    assert.equal(ctx.requestedServerName, 'svc.local');
  });

  test('no route gives 404 after RBAC allowed, and a missing route table gives 404 too', () => {
    const onlyApi = prefixTable([['/api/', routeEntry('api', 'api')]]);
    const d = decideRequest(hcm(), onlyApi, head('/other'), facts);
    assert.equal(d.kind === 'local_reply' && `${d.status} ${d.reason}`, '404 no_route');
    const m = decideRequest(hcm(), undefined, head('/other'), facts);
    assert.equal(m.kind === 'local_reply' && `${m.status} ${m.reason}`, '404 route_table_missing');
  });

  test('RBAC runs before the router: a denied request without a route is 403, not 404', () => {
    const d = decideRequest(hcm({ httpFilters: [allowPublicOnly] }), prefixTable([]), head('/admin'), facts);
    assert.equal(d.kind === 'local_reply' && d.status, 403);
  });

  test('the route sees the normalized path and its rewrites and host rewrite reach the decision', () => {
    const seen: RouteRequest[] = [];
    const t = prefixTable([['/api/', routeEntry('api', 'api', { prefixRewrite: '/v2/', host: 'api.internal', timeoutMs: 0 })]], seen);
    const d = decideRequest(hcm(), t, head('/api//users/../items?id=3'), facts);
    assert.equal(seen[0]?.path, '/api/items?id=3');
    assert.equal(d.kind, 'forward');
    if (d.kind !== 'forward') return;
    assert.equal(d.path, '/v2/items?id=3');
    assert.equal(d.matchedPath, '/api/items?id=3');
    assert.equal(d.authority, 'api.internal');
    assert.equal(d.timeoutMs, 0);
  });

  test('a direct_response route answers locally with its status and body', () => {
    const direct: RouteEntry = { name: 'direct', virtualHost: 'vh', action: { kind: 'direct_response', status: 418, body: 'teapot' } };
    const d = decideRequest(hcm(), prefixTable([['/', direct]]), head('/'), facts);
    assert.deepEqual(d.kind === 'local_reply' && [d.status, d.body, d.reason], [418, 'teapot', 'direct_response']);
  });

  test('a non-relative request target is answered 404, as Envoy does', () => {
    const d = decideRequest(hcm(), table, head('*', { method: 'OPTIONS' }), facts);
    assert.equal(d.kind === 'local_reply' && d.status, 404);
  });

  test('a WebSocket upgrade is forwarded only when upgrade_configs allow it, else 403 before RBAC', () => {
    const seen: RbacContext[] = [];
    const filters = [rbac('rbac', 'ALLOW', { any: () => true }, seen)];
    const ws = head('/chat', { upgrade: 'websocket', headers: [['connection', 'upgrade'], ['upgrade', 'websocket']] });
    const rejected = decideRequest(hcm({ httpFilters: filters }), table, ws, facts);
    assert.equal(rejected.kind === 'local_reply' && `${rejected.status} ${rejected.reason} ${rejected.body}`, '403 upgrade_rejected Access denied\r\n');
    assert.equal(seen.length, 0, 'the upgrade check comes before the HTTP filters');
    const allowed = decideRequest(hcm({ httpFilters: filters, upgrades: new Set(['websocket']) }), table, ws, facts);
    assert.equal(allowed.kind === 'forward' && allowed.upgrade, 'websocket');
  });

  test('a per-route upgrade override wins over the HCM setting', () => {
    const off = prefixTable([['/', routeEntry('r', 'c', { upgrades: new Map([['websocket', false]]) })]]);
    const on = prefixTable([['/', routeEntry('r', 'c', { upgrades: new Map([['websocket', true]]) })]]);
    const ws = head('/chat', { upgrade: 'websocket' });
    assert.equal(decideRequest(hcm({ upgrades: new Set(['websocket']) }), off, ws, facts).kind, 'local_reply');
    assert.equal(decideRequest(hcm(), on, ws, facts).kind, 'forward');
  });

  test('CONNECT is refused with 403 unless the HCM allows it, and is forwarded without a path when it does', () => {
    const connect = head('backend.local:443', { method: 'CONNECT', authority: 'backend.local:443' });
    const refused = decideRequest(hcm(), table, connect, facts);
    assert.equal(refused.kind === 'local_reply' && refused.reason, 'upgrade_rejected');
    const connectTable: RouteTable = { name: 'c', select: (r) => (r.method === 'CONNECT' ? routeEntry('connect', 'proxy') : undefined) };
    const allowed = decideRequest(hcm({ allowConnect: true }), connectTable, connect, facts);
    assert.equal(allowed.kind, 'forward');
    if (allowed.kind !== 'forward') return;
    assert.equal(allowed.upgrade, 'connect');
    assert.equal(allowed.path, '');
    assert.equal(allowed.cluster, 'proxy');
  });

  test('a gRPC request is recognized by its content type and keeps the mapped local reply', () => {
    const d = decideRequest(hcm({ httpFilters: [allowPublicOnly] }), table, head('/pkg.Svc/Method', { method: 'POST', headers: [['content-type', 'application/grpc+proto']] }), facts);
    assert.equal(d.isGrpc, true);
    assert.equal(d.kind === 'local_reply' && d.status, 403);
  });
});

describe('local replies', () => {
  test('HTTP statuses map to gRPC statuses as Envoy maps them', () => {
    const table: Array<[number, number]> = [[400, 13], [401, 16], [403, 7], [404, 12], [429, 14], [502, 14], [503, 14], [504, 14], [500, 2], [418, 2]];
    for (const [http, grpc] of table) assert.equal(grpcStatusOfHttpStatus(http), grpc, `HTTP ${http}`);
  });

  test('a gRPC trailers-only local reply carries grpc-status and the percent-encoded body as grpc-message', () => {
    assert.deepEqual(grpcLocalReplyHeaders(403, 'Access denied\r\n'), [
      ['content-type', 'application/grpc'],
      ['grpc-status', '7'],
      ['grpc-message', 'Access denied%0D%0A'],
    ]);
    assert.deepEqual(grpcLocalReplyHeaders(404, ''), [['content-type', 'application/grpc'], ['grpc-status', '12']]);
  });

  test('only application/grpc and its +suffix or ;parameter forms are gRPC content types', () => {
    for (const yes of ['application/grpc', 'application/grpc+proto', 'Application/GRPC;charset=x', 'application/grpc+json']) assert.equal(isGrpcContentType(yes), true, yes);
    for (const no of [undefined, '', 'application/json', 'application/grpc-web', 'application/grpcx', 'text/application/grpc']) assert.equal(isGrpcContentType(no), false, String(no));
  });

  test('the first mapper with the reply status rewrites status and body; others pass unchanged', () => {
    const config = hcm({ localReplyMappers: [{ whenStatus: 403, statusOverride: 401, body: undefined }, { whenStatus: 403, statusOverride: undefined, body: 'second' }] });
    assert.deepEqual(mapLocalReply(config, 403, 'RBAC: access denied'), { status: 401, body: 'RBAC: access denied' });
    assert.deepEqual(mapLocalReply(config, 404, ''), { status: 404, body: '' });
  });
});
