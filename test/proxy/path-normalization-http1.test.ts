// The path-normalization bypass corpus end to end: an RBAC rule denies /admin; each request target
// below tries to reach /admin past it. Every case is decided on the path Envoy would decide it on
// (normalize_path, merge_slashes, path_with_escaped_slashes_action REJECT_REQUEST — meshd's
// translation), and what the upstream receives is exactly the path that was matched.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hcmJson, rawExchange, rbacFilter, startEchoUpstream, startProxy, staticClusterJson, statusLines, type EchoUpstream, type ProxyUnderTest } from './http1-harness.js';

const denyAdmin = rbacFilter('meshd.rbac.deny', 'DENY', {
  'deny-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] },
});
const allowAll = rbacFilter('meshd.rbac.allow', 'ALLOW', { 'allow-all': { permissions: [{ any: true }], principals: [{ any: true }] } });

/** [target as sent, status, path the upstream receives (for 200)] */
const CASES: Array<[string, number, string?]> = [
  ['/admin', 403],
  ['/public/../admin', 403],
  ['//admin', 403],
  ['/./admin', 403],
  ['/public/./../admin', 403],
  ['/%2e%2e/admin', 403],
  ['/public/%2e%2e/admin', 403],
  ['/public/%2E%2E/admin', 403],
  ['/public/.%2e/admin', 403],
  ['/%61dmin', 403],
  ['/public\\..\\admin', 403],
  ['/admin?x=1', 403],
  ['/admin/', 403],
  ['///admin//x', 403],
  ['/public%2F..%2Fadmin', 400],
  ['/public%2f..%2fadmin', 400],
  ['/public/%5C../admin', 400],
  ['/admin#fragment', 400],
  ['/ADMIN', 200, '/ADMIN'],
  ['/Admin/x', 200, '/Admin/x'],
  ['/public/%61dmin', 200, '/public/admin'],
  ['/public?/admin', 200, '/public?/admin'],
  // Envoy strips parameters from dot segments (strip_dotdot_segments_with_parameters): `..;x` is `..`.
  ['/public/..;/admin', 403],
  ['/public/..;jsessionid=1/admin', 403],
  ['/public/.;/x', 200, '/public/x'],
  ['/public/a/../b?q=%2F..%2F', 200, '/public/b?q=%2F..%2F'],
  ['/public/%7Euser', 200, '/public/~user'],
];

describe('path normalization bypass corpus through the HTTP/1.1 proxy and RBAC', () => {
  let upstream: EchoUpstream;
  let proxy: ProxyUnderTest;
  before(async () => {
    upstream = await startEchoUpstream();
    proxy = await startProxy({ hcm: hcmJson([denyAdmin, allowAll]), clusters: [staticClusterJson('backend', upstream.port)] });
  });
  after(async () => {
    await proxy.close();
    await upstream.close();
  });

  for (const [target, status, forwarded] of CASES) {
    test(`${JSON.stringify(target)} is answered ${status}${forwarded ? ` and forwarded as ${forwarded}` : ''}`, async () => {
      const before = upstream.requests.length;
      const { text } = await rawExchange(proxy.port, `GET ${target} HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n`, { idleMs: 150 });
      assert.deepEqual(statusLines(text), [status]);
      if (forwarded === undefined) assert.equal(upstream.requests.length, before, 'nothing reached the upstream');
      else assert.equal(upstream.requests.at(-1)?.url, forwarded);
    });
  }
});
