// Envoy's RBAC semantics, construct by construct, from configs written the way an Envoy user writes
// them (proto3 JSON through messageFromJson), evaluated on hand-made contexts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { envoy, messageFromJson } from '../../xds/index.js';
import type { Compiled } from '../config/types.js';
import type { DownstreamFacts, HttpRequestHead } from '../hcm/types.js';
import { compileHttpRbac, compileNetworkRbac, compileRules, rbacContextOfRequest, stripQueryAndFragment, type RbacContext, type RbacFilter } from './index.js';

function httpFilter(json: unknown): RbacFilter {
  return value(compileHttpRbac(messageFromJson(envoy.HttpRbacSchema, json), 'typed_config'));
}

function networkFilter(json: unknown): RbacFilter {
  return value(compileNetworkRbac(messageFromJson(envoy.NetworkRbacSchema, json), 'typed_config'));
}

function value<T>(c: Compiled<T>): T {
  if (!c.ok) assert.fail(`unexpected problems: ${c.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return c.value;
}

function problems<T>(c: Compiled<T>): string[] {
  assert.equal(c.ok, false, 'expected problems');
  return c.ok ? [] : c.problems.map((p) => `${p.path}: ${p.message}`);
}

interface Req {
  src?: string;
  dst?: string;
  port?: number;
  sni?: string;
  method?: string;
  path?: string;
  authority?: string;
  headers?: Array<[string, string]>;
  tls?: boolean;
  cert?: RbacContext['peerCertificate'];
  remoteIp?: string;
}

/** An HTTP request context built the way the HCM builds it. */
function request(r: Req = {}): RbacContext {
  const facts: DownstreamFacts = {
    sourceIp: r.src ?? '10.0.0.1',
    sourcePort: 40000,
    destinationIp: r.dst ?? '10.0.0.2',
    destinationPort: r.port ?? 80,
    serverName: r.sni ?? '',
    ...(r.cert ? { peerCertificate: r.cert } : {}),
  };
  const head: HttpRequestHead = {
    method: r.method ?? 'GET',
    target: r.path ?? '/',
    authority: r.authority ?? 'svc.example',
    scheme: 'http',
    headers: r.headers ?? [],
    version: 'HTTP/1.1',
  };
  const ctx = rbacContextOfRequest(facts, head, r.path ?? '/', r.tls ?? false);
  if (r.remoteIp !== undefined) ctx.remoteIp = r.remoteIp;
  return ctx;
}

/** A connection context as the network filter sees it (no headers, no path). */
function connection(r: Req = {}): RbacContext {
  const ctx: RbacContext = {
    directRemoteIp: r.src ?? '10.0.0.1',
    directRemotePort: 40000,
    remoteIp: r.src ?? '10.0.0.1',
    destinationIp: r.dst ?? '10.0.0.2',
    destinationPort: r.port ?? 80,
    requestedServerName: r.sni ?? '',
  };
  if (r.tls !== undefined) ctx.downstreamTls = r.tls;
  if (r.cert) ctx.peerCertificate = r.cert;
  return ctx;
}

/** ALLOW rules with one policy made of one permission and one principal. */
function allowOne(permission: unknown, principal: unknown = { any: true }): RbacFilter {
  return httpFilter({ rules: { action: 'ALLOW', policies: { p: { permissions: [permission], principals: [principal] } } } });
}

const allowed = (f: RbacFilter, ctx: RbacContext) => f.evaluate(ctx).allowed;

describe('RBAC actions and policy order', () => {
  test('ALLOW allows iff a policy matches and names it; no match is denied without a policy', () => {
    const f = allowOne({ header: { name: ':method', stringMatch: { exact: 'GET' } } });
    assert.equal(f.action, 'ALLOW');
    assert.deepEqual(f.evaluate(request({ method: 'GET' })), { allowed: true, policy: 'p' });
    assert.deepEqual(f.evaluate(request({ method: 'POST' })), { allowed: false, policy: undefined });
  });

  test('DENY denies iff a policy matches and names it', () => {
    const f = httpFilter({ rules: { action: 'DENY', policies: { 'no-admin': { permissions: [{ urlPath: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } } });
    assert.equal(f.action, 'DENY');
    assert.deepEqual(f.evaluate(request({ path: '/admin/x' })), { allowed: false, policy: 'no-admin' });
    assert.deepEqual(f.evaluate(request({ path: '/public' })), { allowed: true, policy: undefined });
  });

  test('LOG never denies but reports the matching policy', () => {
    const f = httpFilter({ rules: { action: 'LOG', policies: { seen: { permissions: [{ any: true }], principals: [{ any: true }] } } } });
    assert.deepEqual(f.evaluate(request()), { allowed: true, policy: 'seen' });
  });

  test('a filter without rules enforces nothing; an ALLOW filter with no policies denies everything', () => {
    const none = httpFilter({});
    assert.equal(none.action, 'NONE');
    assert.deepEqual(none.evaluate(request()), { allowed: true, policy: undefined });
    const empty = httpFilter({ rules: { action: 'ALLOW' } });
    assert.equal(allowed(empty, request()), false);
    const emptyDeny = httpFilter({ rules: { action: 'DENY' } });
    assert.equal(allowed(emptyDeny, request()), true);
  });

  test('when several policies match, the first in byte-wise name order is reported (Envoy keeps policies in a std::map)', () => {
    const all = { permissions: [{ any: true }], principals: [{ any: true }] };
    const f = httpFilter({ rules: { action: 'ALLOW', policies: { zeta: all, Beta: all, alpha: all, 'alpha-2': all } } });
    assert.equal(f.evaluate(request()).policy, 'Beta', 'upper-case sorts before lower-case');
    const g = httpFilter({ rules: { action: 'ALLOW', policies: { b: all, a: { permissions: [{ destinationPort: 1 }], principals: [{ any: true }] } } } });
    assert.equal(g.evaluate(request()).policy, 'b', 'a non-matching earlier policy is skipped');
  });

  test('a policy needs one of its permissions AND one of its principals', () => {
    const f = httpFilter({
      rules: {
        action: 'ALLOW',
        policies: {
          p: {
            permissions: [{ destinationPort: 80 }, { destinationPort: 443 }],
            principals: [{ directRemoteIp: { addressPrefix: '10.1.0.0', prefixLen: 16 } }, { directRemoteIp: { addressPrefix: '10.2.0.0', prefixLen: 16 } }],
          },
        },
      },
    });
    assert.equal(allowed(f, request({ port: 443, src: '10.2.3.4' })), true);
    assert.equal(allowed(f, request({ port: 80, src: '10.1.3.4' })), true);
    assert.equal(allowed(f, request({ port: 8080, src: '10.1.3.4' })), false);
    assert.equal(allowed(f, request({ port: 80, src: '10.3.3.4' })), false);
  });

  test('shadow rules name the shadow policy and never change the decision', () => {
    const f = httpFilter({
      rules: { action: 'ALLOW', policies: { all: { permissions: [{ any: true }], principals: [{ any: true }] } } },
      shadowRules: { action: 'DENY', policies: { 'would-deny-post': { permissions: [{ header: { name: ':method', exactMatch: 'POST' } }], principals: [{ any: true }] } } },
    });
    assert.deepEqual(f.evaluate(request({ method: 'POST' })), { allowed: true, policy: 'all', shadowPolicy: 'would-deny-post' });
    assert.deepEqual(f.evaluate(request({ method: 'GET' })), { allowed: true, policy: 'all', shadowPolicy: undefined });
    const shadowOnly = httpFilter({ shadowRules: { action: 'DENY', policies: { x: { permissions: [{ any: true }], principals: [{ any: true }] } } } });
    assert.deepEqual(shadowOnly.evaluate(request()), { allowed: true, policy: undefined, shadowPolicy: 'x' });
  });

  test('decisions without shadow rules are shared objects: evaluating allocates nothing per request', () => {
    const f = allowOne({ any: true });
    assert.equal(f.evaluate(request()), f.evaluate(request()));
    assert.ok(Object.isFrozen(f.evaluate(request())));
  });
});

describe('permissions', () => {
  test('and_rules, or_rules and not_rule compose', () => {
    const f = allowOne({
      andRules: {
        rules: [
          { orRules: { rules: [{ header: { name: ':method', exactMatch: 'GET' } }, { header: { name: ':method', exactMatch: 'HEAD' } }] } },
          { notRule: { urlPath: { path: { prefix: '/private' } } } },
        ],
      },
    });
    assert.equal(allowed(f, request({ method: 'HEAD', path: '/a' })), true);
    assert.equal(allowed(f, request({ method: 'GET', path: '/private/a' })), false);
    assert.equal(allowed(f, request({ method: 'POST', path: '/a' })), false);
  });

  test('header rules see pseudo-headers, joined repeated headers, and host as :authority', () => {
    const method = allowOne({ header: { name: ':method', safeRegexMatch: { regex: 'GET|HEAD' } } });
    assert.equal(allowed(method, request({ method: 'HEAD' })), true);
    const path = allowOne({ header: { name: ':path', stringMatch: { safeRegex: { regex: '/public' } } } });
    assert.equal(allowed(path, request({ path: '/public' })), true);
    assert.equal(allowed(path, request({ path: '/public?x=1' })), false, ':path carries the query');
    const joined = allowOne({ header: { name: 'x-tag', exactMatch: 'a,b' } });
    assert.equal(allowed(joined, request({ headers: [['x-tag', 'a'], ['x-tag', 'b']] })), true);
    const host = allowOne({ header: { name: 'host', stringMatch: { suffix: '.example' } } });
    assert.equal(allowed(host, request({ authority: 'api.example' })), true);
    const authority = allowOne({ header: { name: ':authority', exactMatch: 'api.example:8080' } });
    assert.equal(allowed(authority, request({ authority: 'api.example:8080' })), true);
    const scheme = allowOne({ header: { name: ':scheme', exactMatch: 'http' } });
    assert.equal(allowed(scheme, request()), true);
  });

  test('url_path matches the path without query or fragment', () => {
    const f = allowOne({ urlPath: { path: { exact: '/public' } } });
    assert.equal(allowed(f, request({ path: '/public?x=1' })), true);
    assert.equal(allowed(f, request({ path: '/public#frag' })), true);
    assert.equal(allowed(f, request({ path: '/public/' })), false);
    const utf8 = allowOne({ urlPath: { path: { prefix: '/café/' } } });
    assert.equal(allowed(utf8, request({ path: Buffer.from('/café/x', 'utf8').toString('latin1') })), true, 'paths are wire bytes');
    const ci = allowOne({ urlPath: { path: { prefix: '/API', ignoreCase: true } } });
    assert.equal(allowed(ci, request({ path: '/api/v1' })), true);
    assert.equal(stripQueryAndFragment('/a#x?y'), '/a');
    assert.equal(stripQueryAndFragment('/a?y#x'), '/a');
  });

  test('destination_ip, destination_port and the half-open destination_port_range', () => {
    const ip = allowOne({ destinationIp: { addressPrefix: '10.0.0.0', prefixLen: 24 } });
    assert.equal(allowed(ip, request({ dst: '10.0.0.200' })), true);
    assert.equal(allowed(ip, request({ dst: '10.0.1.1' })), false);
    const port = allowOne({ destinationPort: 8080 });
    assert.equal(allowed(port, request({ port: 8080 })), true);
    assert.equal(allowed(port, request({ port: 8081 })), false);
    const range = allowOne({ destinationPortRange: { start: 8000, end: 8010 } });
    assert.equal(allowed(range, request({ port: 8000 })), true);
    assert.equal(allowed(range, request({ port: 8009 })), true);
    assert.equal(allowed(range, request({ port: 8010 })), false, 'end is exclusive');
    assert.equal(allowed(range, request({ port: 7999 })), false);
  });

  test('requested_server_name matches the SNI, the empty string when there is none', () => {
    const f = allowOne({ requestedServerName: { safeRegex: { regex: '.*\\.example\\.com' } } });
    assert.equal(allowed(f, request({ sni: 'api.example.com' })), true);
    assert.equal(allowed(f, request({ sni: '' })), false);
    const empty = allowOne({ requestedServerName: { exact: '' } });
    assert.equal(allowed(empty, request({ sni: '' })), true);
  });
});

describe('principals', () => {
  test('direct_remote_ip and source_ip read the socket peer; remote_ip reads remoteIp', () => {
    const direct = allowOne({ any: true }, { directRemoteIp: { addressPrefix: '192.168.0.0', prefixLen: 16 } });
    assert.equal(allowed(direct, request({ src: '192.168.3.4' })), true);
    assert.equal(allowed(direct, request({ src: '::ffff:192.168.3.4' })), true);
    assert.equal(allowed(direct, request({ src: '10.0.0.1', remoteIp: '192.168.3.4' })), false);
    const source = allowOne({ any: true }, { sourceIp: { addressPrefix: '192.168.0.0', prefixLen: 16 } });
    assert.equal(allowed(source, request({ src: '192.168.3.4' })), true);
    const remote = allowOne({ any: true }, { remoteIp: { addressPrefix: '192.168.0.0', prefixLen: 16 } });
    assert.equal(allowed(remote, request({ src: '10.0.0.1', remoteIp: '192.168.3.4' })), true);
    assert.equal(allowed(remote, request({ src: '192.168.3.4', remoteIp: '10.0.0.1' })), false);
  });

  test('and_ids, or_ids and not_id compose', () => {
    const f = allowOne(
      { any: true },
      {
        andIds: {
          ids: [
            { orIds: { ids: [{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }, { directRemoteIp: { addressPrefix: 'fd00::', prefixLen: 8 } }] } },
            { notId: { directRemoteIp: { addressPrefix: '10.66.0.0', prefixLen: 16 } } },
          ],
        },
      },
    );
    assert.equal(allowed(f, request({ src: '10.1.1.1' })), true);
    assert.equal(allowed(f, request({ src: 'fd00::5' })), true);
    assert.equal(allowed(f, request({ src: '10.66.1.1' })), false);
    assert.equal(allowed(f, request({ src: '11.1.1.1' })), false);
  });

  test('authenticated: TLS required; principal_name tries URI SANs, then DNS SANs, then the subject', () => {
    const anyTls = allowOne({ any: true }, { authenticated: {} });
    assert.equal(allowed(anyTls, request({ tls: false })), false);
    assert.equal(allowed(anyTls, request({ tls: true })), true, 'Envoy: any TLS connection, client certificate or not');
    const spiffe = allowOne({ any: true }, { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/a/sa/b' } } });
    const cert = (uriSans: string[], dnsSans: string[], subject: string) => ({ subject, uriSans, dnsSans });
    assert.equal(allowed(spiffe, request({ tls: true, cert: cert(['spiffe://cluster.local/ns/a/sa/b'], [], 'CN=x') })), true);
    assert.equal(allowed(spiffe, request({ tls: true, cert: cert([], [], 'CN=x') })), false);
    const dns = allowOne({ any: true }, { authenticated: { principalName: { suffix: '.svc' } } });
    assert.equal(allowed(dns, request({ tls: true, cert: cert(['spiffe://x'], ['a.svc'], 'CN=x') })), true);
    const subject = allowOne({ any: true }, { authenticated: { principalName: { exact: 'CN=client,O=meshd' } } });
    assert.equal(allowed(subject, request({ tls: true, cert: cert([], [], 'CN=client,O=meshd') })), true);
    assert.equal(allowed(subject, request({ tls: false })), false);
  });

  test('header and url_path work as principals too', () => {
    const f = allowOne({ any: true }, { header: { name: 'x-user', presentMatch: true } });
    assert.equal(allowed(f, request({ headers: [['x-user', 'bob']] })), true);
    assert.equal(allowed(f, request()), false);
    const p = allowOne({ any: true }, { urlPath: { path: { exact: '/x' } } });
    assert.equal(allowed(p, request({ path: '/x?y' })), true);
  });
});

describe('network RBAC', () => {
  test('refuses header rules anywhere in rules or shadow rules, as Envoy does; url_path is accepted and never matches', () => {
    const at = 'filters[0].typed_config';
    const rules = (permission: unknown, principal: unknown = { any: true }) => ({
      statPrefix: 'n.',
      rules: { action: 'ALLOW', policies: { p: { permissions: [permission], principals: [principal] } } },
    });
    const compile = (json: unknown) => compileNetworkRbac(messageFromJson(envoy.NetworkRbacSchema, json), at);
    const msg = 'header rules are not supported by the network RBAC filter (Envoy rejects them: a connection has no headers)';
    assert.deepEqual(problems(compile(rules({ header: { name: 'x-a', presentMatch: false } }))), [`${at}.rules.policies["p"].permissions[0].header: ${msg}`]);
    assert.deepEqual(problems(compile(rules({ any: true }, { notId: { orIds: { ids: [{ any: true }, { header: { name: ':method', exactMatch: 'GET' } }] } } }))), [
      `${at}.rules.policies["p"].principals[0].not_id.or_ids.ids[1].header: ${msg}`,
    ]);
    const shadow = { statPrefix: 'n.', shadowRules: { action: 'DENY', policies: { s: { permissions: [{ andRules: { rules: [{ any: true }, { header: { name: 'a' } }] } }], principals: [{ any: true }] } } } };
    assert.deepEqual(problems(compile(shadow)), [`${at}.shadow_rules.policies["s"].permissions[0].and_rules.rules[1].header: ${msg}`]);
    assert.equal(allowed(networkFilter(rules({ notRule: { urlPath: { path: { prefix: '/' } } } })), connection()), true);
  });

  test('decides on ports, addresses and SNI like the HTTP filter', () => {
    const f = networkFilter({
      statPrefix: 'tcp.',
      enforcementType: 'CONTINUOUS',
      rules: {
        action: 'DENY',
        policies: { blocked: { permissions: [{ destinationPort: 5432 }], principals: [{ directRemoteIp: { addressPrefix: '10.9.0.0', prefixLen: 16 } }] } },
      },
    });
    assert.deepEqual(f.evaluate(connection({ src: '10.9.1.1', port: 5432 })), { allowed: false, policy: 'blocked' });
    assert.deepEqual(f.evaluate(connection({ src: '10.8.1.1', port: 5432 })), { allowed: true, policy: undefined });
  });

  test('a network filter needs a stat_prefix', () => {
    assert.deepEqual(problems(compileNetworkRbac(messageFromJson(envoy.NetworkRbacSchema, {}), 'filters[0].typed_config')), ['filters[0].typed_config.stat_prefix: must not be empty']);
  });
});

describe('what meshd does not implement is a problem with its path', () => {
  const at = 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config';
  const compile = (json: unknown) => compileHttpRbac(messageFromJson(envoy.HttpRbacSchema, json), at);
  const one = (permission: unknown, principal: unknown = { any: true }) => ({ rules: { action: 'ALLOW', policies: { p: { permissions: [permission], principals: [principal] } } } });
  const not = "is not implemented by meshd's built-in proxy";

  test('metadata, matcher and uri_template permissions', () => {
    assert.deepEqual(problems(compile(one({ metadata: { filter: 'f', path: [{ key: 'k' }], value: { presentMatch: true } } }))), [`${at}.rules.policies["p"].permissions[0].metadata: ${not}`]);
    assert.deepEqual(problems(compile(one({ matcher: { name: 'm', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } } }))), [
      `${at}.rules.policies["p"].permissions[0].matcher: ${not}`,
    ]);
    assert.deepEqual(problems(compile(one({ uriTemplate: { name: 'u', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } } }))), [
      `${at}.rules.policies["p"].permissions[0].uri_template: ${not}`,
    ]);
  });

  test('metadata and filter_state principals, nested deep', () => {
    assert.deepEqual(problems(compile(one({ any: true }, { orIds: { ids: [{ any: true }, { notId: { filterState: { key: 'k', stringMatch: { exact: 'v' } } } }] } }))), [
      `${at}.rules.policies["p"].principals[0].or_ids.ids[1].not_id.filter_state: ${not}`,
    ]);
    assert.deepEqual(problems(compile(one({ any: true }, { metadata: { filter: 'f', path: [{ key: 'k' }], value: { presentMatch: true } } }))), [
      `${at}.rules.policies["p"].principals[0].metadata: ${not}`,
    ]);
  });

  test('CEL conditions, audit logging, the matcher API and shadow matchers', () => {
    const withCondition = { rules: { action: 'ALLOW', policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], condition: { constExpr: { boolValue: true } } } } } };
    assert.deepEqual(problems(compile(withCondition)), [`${at}.rules.policies["p"].condition: ${not}`]);
    const audit = { rules: { action: 'ALLOW', auditLoggingOptions: { auditCondition: 'ON_DENY' } } };
    assert.deepEqual(problems(compile(audit)), [`${at}.rules.audit_logging_options: ${not}`]);
    const matcher = { matcher: { matcherList: { matchers: [] } } };
    assert.ok(problems(compile(matcher)).includes(`${at}.matcher: ${not}`));
  });

  test('invalid values Envoy rejects: empty sets, empty lists, any false, bad ranges and ports, bad CIDRs, bad regexes', () => {
    assert.deepEqual(problems(compile(one({ andRules: { rules: [] } }))), [`${at}.rules.policies["p"].permissions[0].and_rules.rules: must not be empty`]);
    assert.deepEqual(problems(compile(one({ any: true }, { orIds: { ids: [] } }))), [`${at}.rules.policies["p"].principals[0].or_ids.ids: must not be empty`]);
    assert.deepEqual(problems(compile(one({ any: false }))), [`${at}.rules.policies["p"].permissions[0].any: must be true`]);
    assert.deepEqual(problems(compile(one({ destinationPortRange: { start: 10, end: 10 } }))), [
      `${at}.rules.policies["p"].permissions[0].destination_port_range: range start 10 must be less than range end 10 (the range is [start, end))`,
    ]);
    assert.deepEqual(problems(compile(one({ destinationPortRange: { start: 1, end: 70000 } }))), [`${at}.rules.policies["p"].permissions[0].destination_port_range.end: range end 70000 is out of bounds`]);
    assert.deepEqual(problems(compile(one({ destinationPort: 70000 }))), [`${at}.rules.policies["p"].permissions[0].destination_port: 70000 is not a port`]);
    const badCidr = problems(compile(one({ any: true }, { directRemoteIp: { addressPrefix: 'nope', prefixLen: 8 } })));
    assert.equal(badCidr.length, 1);
    assert.ok(badCidr[0]!.startsWith(`${at}.rules.policies["p"].principals[0].direct_remote_ip.address_prefix: `));
    const badRegex = problems(compile(one({ header: { name: ':path', safeRegexMatch: { regex: '(?<=x)' } } })));
    assert.ok(badRegex[0]!.startsWith(`${at}.rules.policies["p"].permissions[0].header.safe_regex_match.regex: RE2 rejects the regex`));
    const noLists = { rules: { action: 'ALLOW', policies: { p: {} } } };
    assert.deepEqual(problems(compile(noLists)), [
      `${at}.rules.policies["p"].permissions: must have at least one permission`,
      `${at}.rules.policies["p"].principals: must have at least one principal`,
    ]);
  });

  test('every problem of a config is reported, not just the first, including shadow rules', () => {
    const json = {
      rules: {
        action: 'ALLOW',
        policies: {
          a: { permissions: [{ metadata: { filter: 'f', path: [{ key: 'k' }], value: { presentMatch: true } } }], principals: [{ any: true }] },
          b: { permissions: [{ any: true }], principals: [{ filterState: { key: 'k', stringMatch: { exact: 'v' } } }] },
        },
      },
      shadowRules: { action: 'DENY', policies: { c: { permissions: [{ destinationPort: 99999 }], principals: [{ any: true }] } } },
    };
    assert.deepEqual(problems(compile(json)), [
      `${at}.rules.policies["a"].permissions[0].metadata: ${not}`,
      `${at}.rules.policies["b"].principals[0].filter_state: ${not}`,
      `${at}.shadow_rules.policies["c"].permissions[0].destination_port: 99999 is not a port`,
    ]);
  });
});

describe('the per-peer candidate cache', () => {
  const cidr = (a: string, n: number) => ({ directRemoteIp: { addressPrefix: a, prefixLen: n } });

  test('decides like a plain first-match loop over the policies, for many peers in any order, with mixed principals', () => {
    // Policies whose principals read only the peer (cacheable) mixed with ones that read headers.
    const policies: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) {
      const principal =
        i % 7 === 3
          ? { andIds: { ids: [cidr(`10.0.${i}.0`, 24), { header: { name: 'x-user', exactMatch: `u${i % 3}` } }] } }
          : i % 5 === 0
            ? { notId: cidr(`10.0.${i}.0`, 24) }
            : { orIds: { ids: [cidr(`10.0.${i}.0`, 24), cidr(`fd00:${i}::`, 32)] } };
      policies[`p${String(i).padStart(2, '0')}`] = {
        permissions: [{ header: { name: ':path', stringMatch: { prefix: `/${i % 4}` } } }, { destinationPort: 1000 + i }],
        principals: [principal],
      };
    }
    const json = { rules: { action: 'ALLOW', policies } };
    const filter = httpFilter(json);
    const rules = compileRules(messageFromJson(envoy.HttpRbacSchema, json).rules!, 'rules');
    assert.ok(rules.ok);
    const reference = (ctx: RbacContext) => rules.value.policies.find((p) => p.principal(ctx) && p.permission(ctx))?.name;
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
    let allowedCount = 0;
    for (let n = 0; n < 5000; n++) {
      const i = Math.floor(rand() * 45);
      const src = rand() < 0.8 ? `10.0.${i}.${Math.floor(rand() * 3)}` : `fd00:${i}::${Math.floor(rand() * 3)}`;
      const ctx = request({
        src,
        port: 1000 + Math.floor(rand() * 45),
        path: `/${Math.floor(rand() * 5)}/x`,
        headers: rand() < 0.5 ? [['x-user', `u${Math.floor(rand() * 3)}`]] : [],
      });
      const expected = reference(ctx);
      const got = filter.evaluate(ctx);
      assert.equal(got.policy, expected, `${src} port ${ctx.destinationPort} ${ctx.urlPath}`);
      assert.equal(got.allowed, expected !== undefined);
      if (got.allowed) allowedCount++;
    }
    assert.ok(allowedCount > 500 && allowedCount < 4500, `allowed ${allowedCount} of 5000: both outcomes exercised`);
  });

  test('remote_ip principals are cached per (direct, remote) pair, not per socket peer alone', () => {
    const f = httpFilter({
      rules: {
        action: 'ALLOW',
        policies: {
          a: { permissions: [{ any: true }], principals: [{ remoteIp: { addressPrefix: '192.168.0.0', prefixLen: 16 } }] },
          b: { permissions: [{ destinationPort: 1 }], principals: [{ any: true }] },
        },
      },
    });
    assert.equal(allowed(f, request({ src: '10.0.0.1', remoteIp: '192.168.1.1' })), true);
    assert.equal(allowed(f, request({ src: '10.0.0.1', remoteIp: '10.0.0.1' })), false);
    assert.equal(allowed(f, request({ src: '10.0.0.1', remoteIp: '192.168.1.1' })), true);
  });

  test('more distinct peers than the cache holds are still decided correctly', () => {
    const f = httpFilter({
      rules: {
        action: 'DENY',
        policies: { odd: { permissions: [{ any: true }], principals: [cidr('10.1.0.0', 16)] }, other: { permissions: [{ destinationPort: 9 }], principals: [{ any: true }] } },
      },
    });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 6000; i++) {
        const src = `10.${i % 2 === 0 ? 1 : 2}.${(i >> 8) & 255}.${i & 255}`;
        assert.equal(allowed(f, request({ src })), i % 2 !== 0, src);
      }
    }
  });
});

describe('the header-prefix prefilter', () => {
  // Every matcher shape that carries a required prefix (and some that must not), over values that
  // hit, miss, are absent, repeat, hold raw non-ASCII bytes or a newline: the filter (which skips
  // policies through the prefix index) must decide exactly as testing every policy in order.
  const pathShapes: unknown[] = [
    { stringMatch: { safeRegex: { regex: '/api/v1/a/.*' } } },
    { stringMatch: { safeRegex: { regex: '/api/v1/b(/.*)?' } } },
    { stringMatch: { safeRegex: { regex: '/api/v1/a/x' } } },
    { stringMatch: { safeRegex: { regex: '/api/v1/a/x|/api/v1/b/y' } } },
    { stringMatch: { safeRegex: { regex: '/api/v[0-9]+/a/.*' } } },
    { stringMatch: { safeRegex: { regex: '/café/.*' } } },
    { stringMatch: { safeRegex: { regex: '/caf.*' } } },
    { stringMatch: { prefix: '/api/v1/' } },
    { stringMatch: { exact: '/café/x' } },
    { stringMatch: { safeRegex: { regex: '/api/v1/a/.*' } }, invertMatch: true },
    { stringMatch: { safeRegex: { regex: '.*/x' } } },
  ];
  const tenantShapes: unknown[] = [
    { stringMatch: { safeRegex: { regex: 't1.*' } } },
    { stringMatch: { safeRegex: { regex: 't1,t2' } } },
    { stringMatch: { exact: 't2' } },
    { stringMatch: { safeRegex: { regex: 't.*' } }, treatMissingHeaderAsEmpty: true },
    { stringMatch: { prefix: 't' }, invertMatch: true, treatMissingHeaderAsEmpty: true },
  ];
  const paths = ['/api/v1/a/x', '/api/v1/a/', '/api/v1/b', '/api/v1/b/y', '/api/v1/bz', '/api/v22/a/q', '/caf\xc3\xa9/x', '/caf\xc3\xa9/\n', '/caf\xff/x', '/café/x', '/', '/api/v1/a/\nx', '/x'];
  const tenants: Array<Array<[string, string]>> = [[], [['x-tenant', 't1']], [['x-tenant', 't2']], [['x-tenant', 't1'], ['x-tenant', 't2']], [['x-tenant', 'u']], [['x-tenant', '']]];

  function policiesOf(seed: number, principalKind: 'peer' | 'header'): Record<string, unknown> {
    let s = seed;
    const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const policies: Record<string, unknown> = {};
    // Few enough that many requests match none, enough (≥ 4) for the filter to build its index.
    for (let i = 0; i < 6; i++) {
      const path = { header: { name: ':path', ...(pick(pathShapes) as object) } };
      const tenant = { header: { name: 'x-tenant', ...(pick(tenantShapes) as object) } };
      const method = { header: { name: ':method', stringMatch: { safeRegex: { regex: 'GET|HEAD' } } } };
      const host = { header: { name: 'host', stringMatch: { safeRegex: { regex: 'svc\\.example(:[0-9]+)?' } } } };
      const permission = pick([
        { andRules: { rules: [method, path] } },
        { andRules: { rules: [path, tenant, method] } },
        path,
        tenant,
        host,
        { orRules: { rules: [path, tenant] } },
        { notRule: path },
        { urlPath: { path: { prefix: '/api' } } },
      ]);
      const principal =
        principalKind === 'peer'
          ? pick([{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 24 } }, { directRemoteIp: { addressPrefix: '10.0.1.0', prefixLen: 24 } }, { any: true }])
          : pick([{ header: { name: ':path', stringMatch: { prefix: '/api/' } } }, { any: true }, tenant]);
      policies[`p${String(i).padStart(2, '0')}`] = { permissions: [permission], principals: [principal] };
    }
    return policies;
  }

  for (const principalKind of ['peer', 'header'] as const) {
    test(`decides exactly like testing every policy in order (principals read the ${principalKind})`, () => {
      let allowedCount = 0;
      let total = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const json = { rules: { action: seed % 3 === 0 ? 'DENY' : 'ALLOW', policies: policiesOf(seed, principalKind) } };
        const filter = httpFilter(json);
        const rules = compileRules(messageFromJson(envoy.HttpRbacSchema, json).rules!, 'rules');
        assert.ok(rules.ok);
        const reference = (ctx: RbacContext) => rules.value.policies.find((p) => p.principal(ctx) && p.permission(ctx))?.name;
        for (const path of paths) {
          for (const headers of tenants) {
            for (const src of ['10.0.0.5', '10.0.1.5']) {
              for (const method of ['GET', 'POST']) {
                const ctx = request({ src, path, method, headers, authority: method === 'GET' ? 'svc.example:80' : 'other' });
                const expected = reference(ctx);
                assert.equal(filter.evaluate(ctx).policy, expected, `seed ${seed}: ${method} ${JSON.stringify(path)} ${JSON.stringify(headers)} from ${src}`);
                total++;
                if (expected !== undefined) allowedCount++;
              }
            }
          }
        }
      }
      assert.ok(allowedCount > total / 20 && allowedCount < total - total / 20, `${allowedCount} of ${total} matched: both outcomes exercised`);
    });
  }

  test('a network filter (no headers) skips header-prefixed policies and still matches the others', () => {
    const policies: Record<string, unknown> = {};
    for (let i = 0; i < 8; i++) policies[`p${i}`] = { permissions: [{ urlPath: { path: { prefix: `/x${i}` } } }], principals: [{ any: true }] };
    policies['z'] = { permissions: [{ destinationPort: 80 }], principals: [{ any: true }] };
    const f = networkFilter({ statPrefix: 'n', rules: { action: 'ALLOW', policies } });
    assert.equal(f.evaluate(connection()).policy, 'z');
  });
});
