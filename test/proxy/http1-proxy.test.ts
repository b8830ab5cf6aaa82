import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'undici';
import { hcmJson, rawExchange, rbacFilter, routesJson, startEchoUpstream, startProxy, staticClusterJson, statusLines, withBackendProxy, type EchoUpstream, type ProxyUnderTest } from './http1-harness.js';

// meshd's translation shape: a DENY filter, then an ALLOW filter; here with one policy per rule kind.
const filters = [
  rbacFilter('meshd.rbac.deny', 'DENY', {
    'deny-delete': { permissions: [{ header: { name: ':method', string_match: { exact: 'DELETE' } } }], principals: [{ any: true }] },
  }),
  rbacFilter('meshd.rbac.allow', 'ALLOW', {
    'allow-public-get': {
      permissions: [{ and_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'GET' } } }, { url_path: { path: { prefix: '/public/' } } }] } }],
      principals: [{ any: true }],
    },
    'allow-post-upload': {
      permissions: [{ and_rules: { rules: [{ header: { name: ':method', string_match: { exact: 'POST' } } }, { url_path: { path: { prefix: '/upload' } } }] } }],
      principals: [{ any: true }],
    },
    'allow-host-api': { permissions: [{ header: { name: ':authority', string_match: { exact: 'api.local' } } }], principals: [{ any: true }] },
    'allow-team-header': { permissions: [{ header: { name: 'x-team', string_match: { exact: 'blue' } } }], principals: [{ any: true }] },
  }),
];

describe('HTTP/1.1 proxy: forwarding and RBAC with real clients', () => {
  let upstream: EchoUpstream;
  let proxy: ProxyUnderTest;
  let agent: Agent;
  let base: string;

  before(async () => {
    upstream = await startEchoUpstream();
    proxy = await startProxy({ hcm: hcmJson(filters), clusters: [staticClusterJson('backend', upstream.port)] });
    agent = new Agent({ connections: 4 });
    base = `http://127.0.0.1:${proxy.port}`;
  });
  after(async () => {
    await agent.close();
    await proxy.close();
    await upstream.close();
  });

  async function get(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
    const res = await request(`${base}${path}`, { dispatcher: agent, method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  test('an allowed GET reaches the upstream with the normalized path, Host, x-forwarded-proto and no hop-by-hop headers', async () => {
    const res = await get('/public/./a//b/../c?x=1', { headers: { 'x-custom': 'v' } });
    assert.equal(res.status, 200);
    const echoed = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, '/public/a/c?x=1');
    assert.equal(echoed.headers['host'], `127.0.0.1:${proxy.port}`);
    assert.equal(echoed.headers['x-forwarded-proto'], 'http');
    assert.equal(echoed.headers['x-custom'], 'v');
    assert.ok(echoed.headers['x-request-id'], 'an x-request-id is generated as Envoy does');
    // Hop-by-hop headers (undici refuses to send some of them, so raw bytes).
    const raw = await rawExchange(
      proxy.port,
      'GET /public/hop HTTP/1.1\r\nHost: svc\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(statusLines(raw.text), [200]);
    const hop = JSON.parse(raw.text.slice(raw.text.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
    for (const name of ['keep-alive', 'proxy-connection', 'te']) assert.equal(hop.headers[name], undefined, name);
    assert.equal(hop.headers['x-forwarded-proto'], 'http', 'use_remote_address: the proxy sets x-forwarded-proto from the connection');
    assert.match(raw.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(raw.text, /\r\nconnection: close\r\n/);
  });

  test('denials per rule kind answer 403 with the body Access denied', async () => {
    const denied = [
      await get('/private/x'), // path
      await get('/public/x', { method: 'PUT', body: 'x' }), // method
      await get('/public/../private/x'), // path after normalization
      await get('/anything', { method: 'DELETE' }), // DENY rule
      await get('/anything', { headers: { 'x-team': 'red' } }), // header value
    ];
    for (const res of denied) {
      assert.equal(res.status, 403);
      assert.equal(res.body, 'Access denied\r\n');
    }
    assert.equal((await get('/anything', { headers: { 'x-team': 'blue' } })).status, 200, 'header rule allows');
    assert.equal((await get('/anything', { headers: { host: 'api.local' } })).status, 200, 'host rule allows');
    assert.equal((await get('/upload', { method: 'POST', body: 'data' })).status, 200, 'method + path rule allows');
  });

  test('a denied gRPC request over HTTP/1.1 gets a trailers-only reply with grpc-status 7 and the mapped message', async () => {
    const { text } = await rawExchange(proxy.port, 'POST /pkg.Svc/Get HTTP/1.1\r\nHost: svc\r\nContent-Type: application/grpc\r\nTE: trailers\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statusLines(text), [200]);
    assert.match(text, /\r\ncontent-type: application\/grpc\r\n/);
    assert.match(text, /\r\ngrpc-status: 7\r\n/);
    assert.match(text, /\r\ngrpc-message: Access denied%0D%0A\r\n/);
  });

  test('an escaped slash is refused with 400 and never reaches the upstream', async () => {
    const before = upstream.requests.length;
    const res = await get('/public%2F..%2Fprivate');
    assert.equal(res.status, 400);
    assert.equal(upstream.requests.length, before);
  });

  test('sequential keep-alive requests reuse one upstream connection', async () => {
    const connectionsBefore = upstream.connections;
    const single = new Agent({ connections: 1 });
    try {
      for (let i = 0; i < 20; i++) {
        const res = await request(`${base}/public/seq/${i}`, { dispatcher: single });
        assert.equal(res.statusCode, 200);
        await res.body.text();
      }
    } finally {
      await single.close();
    }
    assert.ok(upstream.connections - connectionsBefore <= 1, `upstream connections opened: ${upstream.connections - connectionsBefore}`);
  });

  test('pipelined requests on one connection are answered in order', async () => {
    const req = (path: string) => `GET ${path} HTTP/1.1\r\nHost: svc\r\n\r\n`;
    const { text } = await rawExchange(proxy.port, req('/public/1') + req('/private/2') + req('/public/3') + 'GET /public/4 HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statusLines(text), [200, 403, 200, 200]);
    const urls = [...text.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(urls, ['/public/1', '/public/3', '/public/4']);
  });

  test('a denied request with a small body keeps the connection: its body is read and dropped, the next request is served', async () => {
    const before = upstream.requests.length;
    const { text } = await rawExchange(
      proxy.port,
      'POST /private HTTP/1.1\r\nHost: svc\r\nContent-Length: 10\r\n\r\n0123456789GET /public/after HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(statusLines(text), [403, 200]);
    assert.deepEqual(upstream.requests.slice(before).map((r) => r.url), ['/public/after']);
  });

  test('a chunked body that breaks its framing mid-way is answered 400 and the connection closed', async () => {
    const { text, closed } = await rawExchange(proxy.port, 'POST /upload HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n');
    assert.deepEqual(statusLines(text), [400]);
    assert.equal(closed, true);
  });

  test('request bodies with Content-Length and chunked framing reach the upstream whole', async () => {
    const body = 'x'.repeat(100_000);
    const res = await get('/upload', { method: 'POST', body });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { bodyBytes: number }).bodyBytes, 100_000);
    const chunked = await rawExchange(proxy.port, 'POST /upload HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    assert.deepEqual(statusLines(chunked.text), [200]);
    assert.match(chunked.text, /"bodyBytes":11/);
    assert.match(chunked.text, /"transfer-encoding":"chunked"/);
  });

  test('HTTP/1.0 is refused with 426 as Envoy does unless accept_http_10 is set', async () => {
    const { text, closed } = await rawExchange(proxy.port, 'GET /public/old HTTP/1.0\r\nHost: svc\r\n\r\n');
    assert.deepEqual(statusLines(text), [426]);
    assert.equal(closed, true);
  });

  test('a flow record is published per request with verdict, policy, path and status', async () => {
    proxy.flows.length = 0;
    await get('/public/flow');
    await get('/private/flow');
    const http = proxy.flows.filter((f) => f.type === 'http');
    assert.equal(http.length, 2);
    const [allowed, denied] = http;
    assert.equal(allowed?.type === 'http' && `${allowed.verdict} ${allowed.policy} ${allowed.http.path} ${allowed.http.status}`, 'FORWARDED allow-public-get /public/flow 200');
    assert.equal(denied?.type === 'http' && `${denied.verdict} ${denied.reason} ${denied.http.status}`, 'DENIED rbac_denied 403');
    assert.equal(allowed?.type === 'http' && allowed.upstream?.cluster, 'backend');
  });
});

describe('HTTP/1.1 proxy: routes and failures', () => {
  test('with accept_http_10, HTTP/1.0 is served, closed without keep-alive and kept open with it', async () => {
    const upstream = await startEchoUpstream();
    await withBackendProxy(upstream, { hcm: hcmJson([], { http_protocol_options: { accept_http_10: true } }) }, async (proxy) => {
      const plain = await rawExchange(proxy.port, 'GET /old HTTP/1.0\r\n\r\n');
      assert.deepEqual(statusLines(plain.text), [200]);
      assert.equal(plain.closed, true);
      const kept = await rawExchange(proxy.port, 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n');
      assert.deepEqual(statusLines(kept.text), [200, 200]);
      assert.match(kept.text, /connection: keep-alive/);
      assert.equal(kept.closed, true);
    });
  });

  test('prefix_rewrite and host_rewrite_literal change what the upstream receives, RBAC and routing see the original', async () => {
    const upstream = await startEchoUpstream();
    await withBackendProxy(
      upstream,
      {
        hcm: hcmJson([]),
        routes: routesJson([{ match: { prefix: '/api/' }, route: { cluster: 'backend', timeout: '0s', prefix_rewrite: '/v2/', host_rewrite_literal: 'internal.svc' } }]),
      },
      async (proxy) => {
        const { text } = await rawExchange(proxy.port, 'GET /api//users/../items?id=1 HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n');
        assert.deepEqual(statusLines(text), [200]);
        const seen = upstream.requests.at(-1);
        assert.equal(seen?.url, '/v2/items?id=1');
        assert.equal(seen?.headers['host'], 'internal.svc');
        const flow = proxy.flows.at(-1);
        assert.equal(flow?.type === 'http' && flow.http.path, '/api/items?id=1');
      },
    );
  });

  test('no route answers 404, a cluster that refuses connections answers 503', async () => {
    const upstream = await startEchoUpstream();
    const deadPort = upstream.port;
    await upstream.close();
    const proxy = await startProxy({
      hcm: hcmJson([]),
      routes: routesJson([{ match: { prefix: '/dead' }, route: { cluster: 'dead', timeout: '0s' } }]),
      clusters: [staticClusterJson('dead', deadPort)],
    });
    try {
      const { text } = await rawExchange(proxy.port, 'GET /nothing HTTP/1.1\r\nHost: a\r\n\r\nGET /dead HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      assert.deepEqual(statusLines(text), [404, 503]);
      assert.match(text, /upstream connect error/);
    } finally {
      await proxy.close();
    }
  });

  test('a route to a cluster the proxy does not have answers its cluster_not_found_response_code (503 by default)', async () => {
    const proxy = await startProxy({
      hcm: hcmJson([]),
      routes: routesJson([
        { match: { prefix: '/gone-404' }, route: { cluster: 'missing', cluster_not_found_response_code: 'NOT_FOUND' } },
        { match: { prefix: '/gone' }, route: { cluster: 'missing' } },
      ]),
      clusters: [],
    });
    try {
      const { text } = await rawExchange(proxy.port, 'GET /gone-404 HTTP/1.1\r\nHost: a\r\n\r\nGET /gone HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      assert.deepEqual(statusLines(text), [404, 503]);
    } finally {
      await proxy.close();
    }
  });
});

describe('HTTP/1.1 proxy: configuration changes on live connections', () => {
  test('a route update applies to the next request of an existing keep-alive connection', async () => {
    const upstream = await startEchoUpstream();
    await withBackendProxy(upstream, { hcm: hcmJson([]) }, async (proxy) => {
      const agent = new Agent({ connections: 1 });
      try {
        const first = await request(`http://127.0.0.1:${proxy.port}/x`, { dispatcher: agent });
        assert.equal(first.statusCode, 200);
        await first.body.text();
        proxy.applyRoutes(routesJson([{ match: { prefix: '/' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } }]));
        const second = await request(`http://127.0.0.1:${proxy.port}/x`, { dispatcher: agent });
        assert.equal(second.statusCode, 418);
        assert.equal(await second.body.text(), 'teapot');
        assert.equal(upstream.connections, 1);
      } finally {
        await agent.close();
      }
    });
  });

  test('removing the listener lets the in-flight request finish with connection: close', async () => {
    let respond: (() => void) | undefined;
    let signalArrived: (() => void) | undefined;
    const arrived = new Promise<void>((resolve) => (signalArrived = resolve));
    const upstreamRef = await startEchoUpstream((_req, res) => {
      respond = () => res.end('done');
      signalArrived?.();
    });
    const proxy = await startProxy({ hcm: hcmJson([]), clusters: [staticClusterJson('backend', upstreamRef.port)] });
    try {
      const exchange = rawExchange(proxy.port, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n', { idleMs: 3000 });
      await arrived;
      const r = proxy.store.apply('listener', [], ['http']);
      assert.deepEqual(r.problems, []);
      await new Promise((resolve) => setTimeout(resolve, 50));
      respond?.();
      const { text, closed } = await exchange;
      assert.deepEqual(statusLines(text), [200]);
      assert.match(text, /\r\nconnection: close\r\n/);
      assert.ok(text.endsWith('done'));
      assert.equal(closed, true);
    } finally {
      await proxy.close();
      await upstreamRef.close();
    }
  });
});
