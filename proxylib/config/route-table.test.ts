// Virtual host and route selection as Envoy does it, as tables of requests and the route chosen.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { envoy, messageFromJson } from '../../xds/index.js';
import { compileRouteConfiguration, stripPort, type RouteRequest, type RouteTable } from './index.js';

function table(json: object): RouteTable {
  const r = compileRouteConfiguration(messageFromJson(envoy.RouteConfigurationSchema, { name: 'rt', ...json }));
  if (!r.ok) assert.fail(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return r.value;
}

function problemsOf(json: object): string[] {
  const r = compileRouteConfiguration(messageFromJson(envoy.RouteConfigurationSchema, { name: 'rt', ...json }));
  return r.ok ? [] : r.problems.map((p) => p.path);
}

function request(authority: string, path = '/', extra: Partial<RouteRequest> & { headers?: Record<string, string> } = {}): RouteRequest {
  const headers = extra.headers ?? {};
  return { authority, path, method: extra.method ?? 'GET', header: (n) => headers[n], isGrpc: extra.isGrpc ?? false };
}

const toCluster = (cluster: string) => ({ match: { prefix: '/' }, route: { cluster } });

describe('virtual host selection', () => {
  const t = table({
    virtual_hosts: [
      { name: 'exact', domains: ['www.example.com', 'api.example.com:8080'], routes: [toCluster('exact')] },
      { name: 'suffix', domains: ['*.example.com'], routes: [toCluster('suffix')] },
      { name: 'longer-suffix', domains: ['*-bar.example.com'], routes: [toCluster('longer-suffix')] },
      { name: 'prefix', domains: ['foo.*'], routes: [toCluster('prefix')] },
      { name: 'longer-prefix', domains: ['foo.bar.*'], routes: [toCluster('longer-prefix')] },
      { name: 'star', domains: ['*'], routes: [toCluster('star')] },
    ],
  });
  const cases: Array<[string, string]> = [
    ['www.example.com', 'exact'],
    ['WWW.EXAMPLE.COM', 'exact'],
    ['api.example.com:8080', 'exact'],
    // The port is part of the host unless ignore_port_in_host_matching: `:80` defeats every domain but *.
    ['api.example.com:80', 'star'],
    ['shop.example.com', 'suffix'],
    ['baz-bar.example.com', 'longer-suffix'],
    // A wildcard never matches the empty string.
    ['-bar.example.com', 'suffix'],
    ['.example.com', 'star'],
    ['foo.org', 'prefix'],
    ['foo.bar.org', 'longer-prefix'],
    ['foo.', 'star'],
    ['other.org', 'star'],
  ];
  for (const [host, expected] of cases) {
    test(`Host ${JSON.stringify(host)} selects ${expected}`, () => {
      assert.equal(t.select(request(host))?.virtualHost, expected);
    });
  }

  test('ignore_port_in_host_matching strips the port (IPv6 literals included)', () => {
    const t2 = table({ ignore_port_in_host_matching: true, virtual_hosts: [{ name: 'a', domains: ['a.example', '[::1]'], routes: [toCluster('a')] }] });
    assert.equal(t2.select(request('a.example:8443'))?.virtualHost, 'a');
    assert.equal(t2.select(request('[::1]:80'))?.virtualHost, 'a');
    assert.equal(t2.select(request('b.example')), undefined);
    assert.equal(stripPort('[::1]:80'), '[::1]');
    assert.equal(stripPort('::1'), '::1');
    assert.equal(stripPort('x:1'), 'x');
  });

  test('a request without Host: only a table of just * routes it (Envoy needs the Host to look up domains)', () => {
    assert.equal(t.select(request(''))?.virtualHost, undefined);
    const onlyStar = table({ virtual_hosts: [{ name: 'all', domains: ['*'], routes: [toCluster('c')] }] });
    assert.equal(onlyStar.select(request(''))?.virtualHost, 'all');
  });

  test('no matching virtual host and no * → no route (404)', () => {
    const t3 = table({ virtual_hosts: [{ name: 'a', domains: ['a.example'], routes: [toCluster('a')] }] });
    assert.equal(t3.select(request('b.example')), undefined);
  });

  test('duplicate domains and misplaced wildcards are refused with their paths', () => {
    assert.deepEqual(
      problemsOf({
        virtual_hosts: [
          { name: 'a', domains: ['A.example', 'x*y'], routes: [] },
          { name: 'b', domains: ['a.example', '*.x.*'], routes: [] },
        ],
      }),
      ['virtual_hosts[0].domains[1]', 'virtual_hosts[1].domains[0]', 'virtual_hosts[1].domains[1]'],
    );
  });
});

describe('route matching', () => {
  const t = table({
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        routes: [
          { name: 'connect', match: { connect_matcher: {} }, route: { cluster: 'tunnel' } },
          { name: 'exact', match: { path: '/exact' }, route: { cluster: 'c' } },
          { name: 'ci', match: { prefix: '/CI/', case_sensitive: false }, route: { cluster: 'c' } },
          { name: 'separated', match: { path_separated_prefix: '/api' }, route: { cluster: 'c' } },
          { name: 'regex', match: { safe_regex: { regex: '/v[0-9]+/items' } }, route: { cluster: 'c' } },
          { name: 'header', match: { prefix: '/h', headers: [{ name: 'x-env', string_match: { exact: 'canary' } }] }, route: { cluster: 'c' } },
          { name: 'method', match: { prefix: '/h', headers: [{ name: ':method', string_match: { exact: 'POST' } }] }, route: { cluster: 'c' } },
          { name: 'query', match: { prefix: '/q', query_parameters: [{ name: 'debug', present_match: true }] }, route: { cluster: 'c' } },
          { name: 'grpc', match: { prefix: '/pkg.Svc/', grpc: {} }, route: { cluster: 'c' } },
          { name: 'fallback', match: { prefix: '/' }, route: { cluster: 'c' } },
        ],
      },
    ],
  });
  const cases: Array<[string, Partial<RouteRequest> & { headers?: Record<string, string> }, string | undefined]> = [
    ['/exact', {}, 'exact'],
    ['/exact?x=1', {}, 'exact'],
    ['/exact/', {}, 'fallback'],
    ['/EXACT', {}, 'fallback'],
    ['/ci/a', {}, 'ci'],
    ['/Ci/A', {}, 'ci'],
    ['/api', {}, 'separated'],
    ['/api/x', {}, 'separated'],
    ['/api?x', {}, 'separated'],
    ['/apix', {}, 'fallback'],
    ['/v12/items', {}, 'regex'],
    ['/v12/items?page=2', {}, 'regex'],
    ['/v12/items/1', {}, 'fallback'],
    ['/h', { headers: { 'x-env': 'canary' } }, 'header'],
    ['/h', { headers: { 'x-env': 'prod' } }, 'fallback'],
    ['/h', { method: 'POST' }, 'method'],
    ['/q?debug', {}, 'query'],
    ['/q?x=1&debug=0', {}, 'query'],
    ['/q?x=1', {}, 'fallback'],
    ['/pkg.Svc/Call', { isGrpc: true }, 'grpc'],
    ['/pkg.Svc/Call', {}, 'fallback'],
    // CONNECT matches only connect_matcher routes, and those only CONNECT.
    ['example.com:443', { method: 'CONNECT' }, 'connect'],
  ];
  for (const [path, extra, expected] of cases) {
    test(`${extra.method ?? 'GET'} ${path} ${extra.headers ? JSON.stringify(extra.headers) : ''}${extra.isGrpc ? ' (gRPC)' : ''} → ${expected ?? 'no route'}`, () => {
      assert.equal(t.select(request('any', path, extra))?.name, expected);
    });
  }

  test('the first matching route wins, in order', () => {
    const t2 = table({ virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ name: 'a', match: { prefix: '/' }, route: { cluster: 'a' } }, { name: 'b', match: { path: '/b' }, route: { cluster: 'b' } }] }] });
    assert.equal(t2.select(request('x', '/b'))?.name, 'a');
  });
});

describe('route actions', () => {
  function action(route: object, path = '/') {
    const t = table({ virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [route] }] });
    const entry = t.select(request('h', path));
    assert.ok(entry);
    return entry.action;
  }

  test('Envoy defaults: 15 s timeout, no per-route idle timeout (-1), 503 when the cluster is missing', () => {
    const a = action({ match: { prefix: '/' }, route: { cluster: 'c' } });
    assert.ok(a.kind === 'route');
    assert.equal(a.cluster(), 'c');
    assert.equal(a.timeoutMs, 15_000);
    assert.equal(a.idleTimeoutMs, -1);
    assert.equal(a.clusterNotFoundStatus, 503);
    assert.equal(a.rewritePath('/x?y'), '/x?y');
    const b = action({ match: { prefix: '/' }, route: { cluster: 'c', timeout: '0s', idle_timeout: '2.5s', cluster_not_found_response_code: 'NOT_FOUND' } });
    assert.ok(b.kind === 'route');
    assert.equal(b.timeoutMs, 0);
    assert.equal(b.idleTimeoutMs, 2500);
    assert.equal(b.clusterNotFoundStatus, 404);
  });

  test('prefix_rewrite replaces the matched prefix (or whole path) and keeps the query', () => {
    const a = action({ match: { prefix: '/old/' }, route: { cluster: 'c', prefix_rewrite: '/new/' } }, '/old/x');
    assert.ok(a.kind === 'route');
    assert.equal(a.rewritePath('/old/x/y?q=1'), '/new/x/y?q=1');
    const b = action({ match: { path: '/login' }, route: { cluster: 'c', prefix_rewrite: '/auth/login' } }, '/login');
    assert.ok(b.kind === 'route');
    assert.equal(b.rewritePath('/login?next=/'), '/auth/login?next=/');
    const c = action({ match: { prefix: '/api' }, route: { cluster: 'c', prefix_rewrite: '/' } }, '/api');
    assert.ok(c.kind === 'route');
    assert.equal(c.rewritePath('/api/users'), '//users');
  });

  test('regex_rewrite substitutes every match in the path with \\N groups, query untouched', () => {
    const a = action({ match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } } });
    assert.ok(a.kind === 'route');
    assert.equal(a.rewritePath('/service/foo/v1/api?x=/service/a/b'), '/v1/api/instance/foo?x=/service/a/b');
    const b = action({ match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: 'one' }, substitution: 'two' } } });
    assert.ok(b.kind === 'route');
    assert.equal(b.rewritePath('/xxx/one/yyy/one'), '/xxx/two/yyy/two');
  });

  test('weighted clusters pick by weight per request', () => {
    const a = action({ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }, { name: 'never', weight: 0 }] } } });
    assert.ok(a.kind === 'route');
    assert.deepEqual(a.clusterNames, ['a', 'b', 'never']);
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const c = a.cluster();
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.equal(counts.get('never'), undefined);
    const share = (counts.get('a') ?? 0) / 4000;
    assert.ok(share > 0.7 && share < 0.8, `cluster a got ${share}`);
  });

  test('direct_response, host_rewrite_literal and per-route upgrades', () => {
    const d = action({ match: { prefix: '/' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } });
    assert.deepEqual(d, { kind: 'direct_response', status: 418, body: 'teapot' });
    const r = action({ match: { prefix: '/' }, route: { cluster: 'c', host_rewrite_literal: 'up.internal', upgrade_configs: [{ upgrade_type: 'WebSocket', enabled: false }] } });
    assert.ok(r.kind === 'route');
    assert.equal(r.hostRewriteLiteral, 'up.internal');
    assert.deepEqual([...r.upgrades], [['websocket', false]]);
  });

  test('invalid actions are refused with their paths', () => {
    const bad = (route: object) => problemsOf({ virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [route] }] });
    assert.deepEqual(bad({ match: { safe_regex: { regex: '/a' } }, route: { cluster: 'c', prefix_rewrite: '/b' } }), ['virtual_hosts[0].routes[0].route.prefix_rewrite']);
    assert.deepEqual(bad({ match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '(a' }, substitution: 'b' } } }), ['virtual_hosts[0].routes[0].route.regex_rewrite.pattern.regex']);
    assert.deepEqual(bad({ match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '(a)' }, substitution: '\\2' } } }), ['virtual_hosts[0].routes[0].route.regex_rewrite.substitution']);
    assert.deepEqual(bad({ match: { prefix: '/' }, direct_response: { status: 99 } }), ['virtual_hosts[0].routes[0].direct_response.status']);
    assert.deepEqual(bad({ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 0 }] } } }), ['virtual_hosts[0].routes[0].route.weighted_clusters.clusters']);
    assert.deepEqual(bad({ match: { prefix: '/' }, redirect: { path_redirect: '/x' } }), ['virtual_hosts[0].routes[0].redirect']);
    assert.deepEqual(bad({ match: { prefix: '/', runtime_fraction: { default_value: { numerator: 1 } } }, route: { cluster: 'c' } }), ['virtual_hosts[0].routes[0].match.runtime_fraction']);    // Written into the upstream request head: a CR/LF would inject a header.
    assert.deepEqual(bad({ match: { prefix: '/' }, route: { cluster: 'c', host_rewrite_literal: 'up\r\nx-injected: 1' } }), ['virtual_hosts[0].routes[0].route.host_rewrite_literal']);
    assert.deepEqual(bad({ match: { prefix: '/a' }, route: { cluster: 'c', prefix_rewrite: '/b\n' } }), ['virtual_hosts[0].routes[0].route.prefix_rewrite']);
    assert.deepEqual(bad({ match: { prefix: '/' }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '(a)' }, substitution: '\\1\r' } } }), ['virtual_hosts[0].routes[0].route.regex_rewrite.substitution']);
  });
});
