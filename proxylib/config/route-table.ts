// RouteConfiguration → RouteTable: Envoy's virtual host selection and route matching.
//
// Virtual hosts (Envoy's RouteMatcher::findVirtualHost): the Host/:authority is lower-cased (its
// port removed only with ignore_port_in_host_matching; the HCM's strip_*_host_port is applied by
// the caller before select) and looked up in this order: exact domains, then suffix wildcards
// (`*.foo.com`, `*-bar.foo.com`) longest first, then prefix wildcards (`foo.*`) longest first, then
// `*`. A wildcard never matches the empty string (`*.foo.com` does not match `.foo.com`).
// Routes: the first route of the virtual host whose match accepts the request, in order.
// prefix compares the start of the path (query included, as Envoy's :path); path, safe_regex and
// path_separated_prefix compare the path without query. CONNECT requests match only routes with
// connect_matcher, and connect_matcher routes only CONNECT requests (a CONNECT has no path).
import { RE2JS } from 're2js';
import type { envoy } from '../../xds/index.js';
import {
  compileHeaderMatcher,
  compileQueryParameterMatcher,
  compileRegexMatcher,
  parseQueryParameters,
  type HeaderLookup,
  type HeaderPredicate,
  type QueryPredicate,
  type StringPredicate,
} from '../matchers/index.js';
import { readDataSource } from './data-source.js';
import { checkSupportedFields } from './field-walker.js';
import { at, checkedDurationMs, Problems } from './problems.js';
import type { Compiled, RouteAction, RouteEntry, RouteRequest, RouteTable } from './types.js';
import { RouteConfigurationSchema } from './schemas.js';

/** Envoy's RouteAction.timeout default. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
/** Envoy's RouteConfiguration.max_direct_response_body_size_bytes default. */
export const DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES = 4096;

/** Compiles an RDS RouteConfiguration (paths from the resource root). */
export function compileRouteConfiguration(rc: envoy.RouteConfiguration): Compiled<RouteTable> {
  const p = new Problems();
  if (rc.name === '') p.add('name', 'must not be empty');
  checkSupportedFields(RouteConfigurationSchema, rc, '', p);
  const table = compileRouteTableInto(p, '', rc);
  return p.result(() => table!);
}

/**
 * Compiles a RouteConfiguration found at `path` into `p`. The caller has run the supported-field
 * walker over it (the HCM's walk covers an inline route_config).
 */
export function compileRouteTableInto(p: Problems, path: string, rc: envoy.RouteConfiguration): RouteTable | undefined {
  const before = p.items.length;
  const maxBody = rc.maxDirectResponseBodySizeBytes ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES;
  const hosts = rc.virtualHosts.map((vh, i) => compileVirtualHost(p, at(path, `virtual_hosts[${i}]`), vh, maxBody));
  const index = indexDomains(p, path, rc.virtualHosts, hosts);
  if (p.items.length > before) return undefined;
  const clusterNames = [...new Set(hosts.flatMap((h) => h.routes.flatMap((r) => (r.entry.action.kind === 'route' ? (r.entry.action.clusterNames ?? []) : []))))].sort();
  const ignorePort = rc.ignorePortInHostMatching;
  return {
    name: rc.name,
    clusterNames,
    select(request: RouteRequest): RouteEntry | undefined {
      // As Envoy: a table of only `*` needs no Host; otherwise a request without one has no route.
      const vh = index.onlyStar ? index.star : request.authority === '' ? undefined : index.find(hostForMatching(request.authority, ignorePort));
      if (!vh) return undefined;
      // Per-request facts are built only when a route needs more than a case-sensitive prefix
      // (meshd's own tables are one `prefix: /` route: no allocation per request).
      let ctx: MatchContext | undefined;
      for (const route of vh.routes) {
        if (route.plainPrefix !== undefined) {
          if (request.method !== 'CONNECT' && request.path.startsWith(route.plainPrefix)) return route.entry;
          continue;
        }
        ctx ??= new MatchContext(request);
        if (route.matches(ctx)) return route.entry;
      }
      return undefined;
    },
  };
}

// ---- virtual hosts ---------------------------------------------------------------------------

interface CompiledVirtualHost {
  name: string;
  routes: CompiledRoute[];
}

interface DomainIndex {
  /** Only `*`: every host selects `star`, no need to look at the Host header. */
  onlyStar: boolean;
  star: CompiledVirtualHost | undefined;
  find(host: string): CompiledVirtualHost | undefined;
}

function hostForMatching(authority: string, ignorePort: boolean): string {
  const host = ignorePort ? stripPort(authority) : authority;
  return host.toLowerCase();
}

/** `host:port` → `host`; `[v6]:port` → `[v6]`; a bare IPv6 address stays as it is. */
export function stripPort(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return authority;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    return close >= 0 && colon > close ? authority.slice(0, colon) : authority;
  }
  // More than one colon without brackets: an IPv6 literal, no port.
  if (authority.indexOf(':') !== colon) return authority;
  return authority.slice(0, colon);
}

function indexDomains(p: Problems, path: string, vhs: readonly envoy.VirtualHost[], compiled: CompiledVirtualHost[]): DomainIndex {
  const exact = new Map<string, CompiledVirtualHost>();
  const suffixes: Array<[string, CompiledVirtualHost]> = [];
  const prefixes: Array<[string, CompiledVirtualHost]> = [];
  let star: CompiledVirtualHost | undefined;
  const seen = new Map<string, string>();
  vhs.forEach((vh, i) => {
    const vhc = compiled[i]!;
    if (vh.domains.length === 0) p.add(at(path, `virtual_hosts[${i}].domains`), 'must not be empty');
    vh.domains.forEach((raw, j) => {
      const where = at(path, `virtual_hosts[${i}].domains[${j}]`);
      const domain = raw.toLowerCase();
      const previous = seen.get(domain);
      if (previous !== undefined) {
        // Envoy refuses the whole RouteConfiguration.
        p.add(where, `domain "${raw}" is already used by ${previous} (Envoy requires unique domains)`);
        return;
      }
      seen.set(domain, `virtual_hosts[${i}]`);
      if (domain === '') p.add(where, 'must not be empty');
      else if (domain === '*') star = vhc;
      else if (domain.startsWith('*')) {
        if (domain.indexOf('*', 1) >= 0) p.add(where, `"${raw}" may have one wildcard, at the start or at the end`);
        else suffixes.push([domain.slice(1), vhc]);
      } else if (domain.endsWith('*')) {
        if (domain.indexOf('*') !== domain.length - 1) p.add(where, `"${raw}" may have one wildcard, at the start or at the end`);
        else prefixes.push([domain.slice(0, -1), vhc]);
      } else if (domain.includes('*')) p.add(where, `"${raw}" may have one wildcard, at the start or at the end`);
      else exact.set(domain, vhc);
    });
  });
  // Longest first; for equal lengths the order does not matter (two equal strings are duplicates).
  suffixes.sort((a, b) => b[0].length - a[0].length);
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const onlyStar = exact.size === 0 && suffixes.length === 0 && prefixes.length === 0;
  return {
    onlyStar,
    star,
    find(host) {
      const hit = exact.get(host);
      if (hit) return hit;
      for (const [suffix, vh] of suffixes) if (host.length > suffix.length && host.endsWith(suffix)) return vh;
      for (const [prefix, vh] of prefixes) if (host.length > prefix.length && host.startsWith(prefix)) return vh;
      return star;
    },
  };
}

function compileVirtualHost(p: Problems, path: string, vh: envoy.VirtualHost, maxBody: number): CompiledVirtualHost {
  if (vh.name === '') p.add(at(path, 'name'), 'must not be empty');
  return { name: vh.name, routes: vh.routes.map((r, j) => compileRoute(p, at(path, `routes[${j}]`), r, vh.name, j, maxBody)) };
}

// ---- routes ----------------------------------------------------------------------------------

/** Per-request facts computed at most once however many routes are tried. */
class MatchContext {
  private pathOnly: string | undefined;
  private lowerPath: string | undefined;
  private lowerPathOnly: string | undefined;
  private query: Map<string, string[]> | undefined;
  private headerLookup: HeaderLookup | undefined;
  readonly isConnect: boolean;

  constructor(readonly request: RouteRequest) {
    this.isConnect = request.method === 'CONNECT';
  }

  /** Header lookup with the pseudo-headers header matchers may name. */
  get lookup(): HeaderLookup {
    const request = this.request;
    return (this.headerLookup ??= (name) => {
      switch (name) {
        case ':method':
          return request.method;
        case ':path':
          return request.path;
        case ':authority':
          return request.authority;
        case ':scheme':
          return request.scheme ?? 'http';
        default:
          return request.header(name);
      }
    });
  }

  path(caseSensitive: boolean): string {
    if (caseSensitive) return this.request.path;
    return (this.lowerPath ??= this.request.path.toLowerCase());
  }

  /** The path without query (and fragment), as Envoy's path / safe_regex / path_separated_prefix see it. */
  pathWithoutQuery(caseSensitive: boolean): string {
    this.pathOnly ??= withoutQuery(this.request.path);
    if (caseSensitive) return this.pathOnly;
    return (this.lowerPathOnly ??= this.pathOnly.toLowerCase());
  }

  queryParameters(): Map<string, string[]> {
    return (this.query ??= parseQueryParameters(this.request.path));
  }
}

function withoutQuery(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return path.slice(0, i);
  }
  return path;
}

interface CompiledRoute {
  entry: RouteEntry;
  /** Set when the route is only a case-sensitive prefix: select checks it without a MatchContext. */
  plainPrefix: string | undefined;
  matches(ctx: MatchContext): boolean;
}

type PathMatch =
  | { kind: 'prefix'; value: string }
  | { kind: 'path'; value: string }
  | { kind: 'regex'; test: StringPredicate }
  | { kind: 'separated'; value: string }
  | { kind: 'connect' };

function compileRoute(p: Problems, path: string, route: envoy.Route, vhName: string, index: number, maxBody: number): CompiledRoute {
  const match = route.match;
  const matchPath = at(path, 'match');
  let pathMatch: PathMatch | undefined;
  let caseSensitive = true;
  const headerTests: HeaderPredicate[] = [];
  const queryTests: QueryPredicate[] = [];
  let grpcOnly = false;
  if (!match) p.add(matchPath, 'is required');
  else {
    caseSensitive = match.caseSensitive ?? true;
    pathMatch = compilePathMatch(p, matchPath, match, caseSensitive);
    match.headers.forEach((h, k) => {
      const t = p.take(compileHeaderMatcher(h, at(matchPath, `headers[${k}]`)));
      if (t) headerTests.push(t);
    });
    match.queryParameters.forEach((q, k) => {
      const t = p.take(compileQueryParameterMatcher(q, at(matchPath, `query_parameters[${k}]`)));
      if (t) queryTests.push(t);
    });
    grpcOnly = match.grpc !== undefined;
  }
  const action = compileAction(p, path, route, pathMatch, maxBody);
  const entry: RouteEntry = { name: route.name !== '' ? route.name : `${vhName}/routes[${index}]`, virtualHost: vhName, action: action ?? NO_ACTION };
  const pm = pathMatch;
  const plain = pm?.kind === 'prefix' && caseSensitive && headerTests.length === 0 && queryTests.length === 0 && !grpcOnly;
  return {
    entry,
    plainPrefix: plain ? pm.value : undefined,
    matches(ctx) {
      if (!pm) return false;
      if ((pm.kind === 'connect') !== ctx.isConnect) return false;
      if (!pathMatches(pm, ctx, caseSensitive)) return false;
      for (const t of headerTests) if (!t(ctx.lookup)) return false;
      if (queryTests.length > 0) {
        const params = ctx.queryParameters();
        for (const t of queryTests) if (!t(params)) return false;
      }
      if (grpcOnly && !ctx.request.isGrpc) return false;
      return true;
    },
  };
}

// Placeholder for a route whose action failed to compile: the table is never returned then.
const NO_ACTION: RouteAction = { kind: 'direct_response', status: 500, body: '' };

function compilePathMatch(p: Problems, path: string, match: envoy.RouteMatch, caseSensitive: boolean): PathMatch | undefined {
  const spec = match.pathSpecifier;
  const lower = (s: string) => (caseSensitive ? s : s.toLowerCase());
  switch (spec.case) {
    case 'prefix':
      return { kind: 'prefix', value: lower(spec.value) };
    case 'path':
      return { kind: 'path', value: lower(spec.value) };
    case 'safeRegex': {
      // Envoy ignores case_sensitive for regexes; (?i) in the pattern is the way.
      const test = p.take(compileRegexMatcher(spec.value, at(path, 'safe_regex')));
      return test ? { kind: 'regex', test } : undefined;
    }
    case 'pathSeparatedPrefix': {
      const value = spec.value;
      // Envoy's validation: no query or fragment, and no trailing slash.
      if (value === '' || /[?#]/.test(value) || value.endsWith('/')) {
        p.add(at(path, 'path_separated_prefix'), `"${value}" must be a non-empty path without ?, # or a trailing /`);
        return undefined;
      }
      return { kind: 'separated', value: lower(value) };
    }
    case 'connectMatcher':
      return { kind: 'connect' };
    case 'pathMatchPolicy':
      p.notImplemented(at(path, 'path_match_policy'));
      return undefined;
    case undefined:
      p.add(path, 'needs prefix, path, safe_regex, path_separated_prefix or connect_matcher');
      return undefined;
  }
}

function pathMatches(pm: PathMatch, ctx: MatchContext, caseSensitive: boolean): boolean {
  switch (pm.kind) {
    case 'prefix':
      return ctx.path(caseSensitive).startsWith(pm.value);
    case 'path':
      return ctx.pathWithoutQuery(caseSensitive) === pm.value;
    case 'regex':
      return pm.test(ctx.pathWithoutQuery(true));
    case 'separated': {
      const path = ctx.pathWithoutQuery(caseSensitive);
      return path.startsWith(pm.value) && (path.length === pm.value.length || path.charCodeAt(pm.value.length) === 0x2f /* / */);
    }
    case 'connect':
      return true;
  }
}

// ---- actions ---------------------------------------------------------------------------------

function compileAction(p: Problems, path: string, route: envoy.Route, pathMatch: PathMatch | undefined, maxBody: number): RouteAction | undefined {
  const action = route.action;
  switch (action.case) {
    case 'route':
      return compileRouteAction(p, at(path, 'route'), action.value, pathMatch);
    case 'directResponse': {
      const dr = action.value;
      const where = at(path, 'direct_response');
      if (dr.status < 200 || dr.status > 599) p.add(at(where, 'status'), `${dr.status} is not an HTTP status in [200, 599]`);
      const body = readDataSource(p, at(where, 'body'), dr.body) ?? '';
      if (Buffer.byteLength(body) > maxBody) p.add(at(where, 'body'), `is ${Buffer.byteLength(body)} bytes, over max_direct_response_body_size_bytes (${maxBody})`);
      return { kind: 'direct_response', status: dr.status, body };
    }
    case undefined:
      p.add(path, 'needs route or direct_response');
      return undefined;
    default:
      // redirect, filter_action, non_forwarding_action: the walker has reported the field.
      return undefined;
  }
}

function compileRouteAction(p: Problems, path: string, ra: envoy.RouteAction, pathMatch: PathMatch | undefined): RouteAction | undefined {
  const before = p.items.length;
  let pick: (() => string) | undefined;
  let clusterNames: string[] = [];
  const spec = ra.clusterSpecifier;
  if (spec.case === 'cluster') {
    if (spec.value === '') p.add(at(path, 'cluster'), 'must not be empty');
    const name = spec.value;
    pick = () => name;
    clusterNames = [name];
  } else if (spec.case === 'weightedClusters') {
    const chosen = compileWeightedClusters(p, at(path, 'weighted_clusters'), spec.value);
    if (chosen) ({ pick, names: clusterNames } = chosen);
  } else if (spec.case === undefined) {
    p.add(path, 'needs cluster or weighted_clusters');
  }
  // cluster_header and the plugins: reported by the field walker.

  if (ra.prefixRewrite !== '' && ra.regexRewrite) p.add(at(path, 'regex_rewrite'), 'cannot be combined with prefix_rewrite');
  // Envoy's PGV rule for these fields (HTTP_HEADER_VALUE, not strict): no NUL, CR or LF. They are
  // written into the upstream request head, so a CR/LF here would inject headers.
  for (const [field, value] of [
    ['prefix_rewrite', ra.prefixRewrite],
    ['regex_rewrite.substitution', ra.regexRewrite?.substitution ?? ''],
    ['host_rewrite_literal', ra.hostRewriteSpecifier.case === 'hostRewriteLiteral' ? ra.hostRewriteSpecifier.value : ''],
  ] as const) {
    if (/[\0\r\n]/.test(value)) p.add(at(path, field), 'must not contain NUL, CR or LF (it is written into the upstream request head)');
  }
  let rewritePath: (path: string) => string = identity;
  if (ra.prefixRewrite !== '') {
    const rewrite = prefixRewriter(p, at(path, 'prefix_rewrite'), ra.prefixRewrite, pathMatch);
    if (rewrite) rewritePath = rewrite;
  } else if (ra.regexRewrite) {
    const rewrite = regexRewriter(p, at(path, 'regex_rewrite'), ra.regexRewrite);
    if (rewrite) rewritePath = rewrite;
  }
  const hostRewriteLiteral = ra.hostRewriteSpecifier.case === 'hostRewriteLiteral' ? ra.hostRewriteSpecifier.value : undefined;
  const upgrades = new Map<string, boolean>();
  ra.upgradeConfigs.forEach((u, i) => {
    const type = u.upgradeType.toLowerCase();
    if (type === '') p.add(at(path, `upgrade_configs[${i}].upgrade_type`), 'must not be empty');
    else if (upgrades.has(type)) p.add(at(path, `upgrade_configs[${i}].upgrade_type`), `"${u.upgradeType}" is listed twice`);
    upgrades.set(type, u.enabled ?? true);
  });
  const timeoutMs = checkedDurationMs(p, at(path, 'timeout'), ra.timeout, DEFAULT_ROUTE_TIMEOUT_MS);
  const idleTimeoutMs = checkedDurationMs(p, at(path, 'idle_timeout'), ra.idleTimeout, -1);
  const clusterNotFoundStatus = [503, 404, 500][ra.clusterNotFoundResponseCode] ?? 503;
  if (p.items.length > before || !pick) return undefined;
  return { kind: 'route', cluster: pick, timeoutMs, idleTimeoutMs, rewritePath, hostRewriteLiteral, upgrades, clusterNotFoundStatus, clusterNames };
}

function identity(path: string): string {
  return path;
}

function compileWeightedClusters(p: Problems, path: string, wc: envoy.WeightedCluster): { pick: () => string; names: string[] } | undefined {
  if (wc.clusters.length === 0) {
    p.add(at(path, 'clusters'), 'must not be empty');
    return undefined;
  }
  const names: string[] = [];
  const cumulative: number[] = [];
  let total = 0;
  wc.clusters.forEach((c, i) => {
    if (c.name === '') p.add(at(path, `clusters[${i}].name`), 'must not be empty');
    total += c.weight ?? 0;
    names.push(c.name);
    cumulative.push(total);
  });
  if (total === 0) p.add(at(path, 'clusters'), 'the weights must not all be 0');
  if (total > 0xffffffff) p.add(at(path, 'clusters'), 'the weights sum to more than 2^32-1 (Envoy refuses)');
  return {
    names: [...new Set(names)].sort(),
    pick() {
      // Envoy draws a random value in [0, total) per request and walks the cumulative weights.
      const r = Math.floor(Math.random() * total);
      for (let i = 0; i < cumulative.length; i++) if (r < cumulative[i]!) return names[i]!;
      return names[names.length - 1]!;
    },
  };
}

/** prefix_rewrite: replaces what the prefix / path / path_separated_prefix matched; the rest and the query stay. */
function prefixRewriter(p: Problems, path: string, rewrite: string, pathMatch: PathMatch | undefined): ((path: string) => string) | undefined {
  if (!pathMatch) return undefined;
  if (pathMatch.kind === 'regex' || pathMatch.kind === 'connect') {
    p.add(path, 'needs a prefix, path or path_separated_prefix match (Envoy refuses it with safe_regex)');
    return undefined;
  }
  if (pathMatch.kind === 'path') {
    // The whole path was matched: it is replaced, the query kept.
    return (full) => {
      const q = queryStart(full);
      return q < 0 ? rewrite : rewrite + full.slice(q);
    };
  }
  const length = pathMatch.value.length;
  return (full) => rewrite + full.slice(length);
}

function queryStart(path: string): number {
  const q = path.indexOf('?');
  const h = path.indexOf('#');
  return q < 0 ? h : h < 0 ? q : Math.min(q, h);
}

/**
 * regex_rewrite: every non-overlapping match in the path (query excluded) replaced by the
 * substitution, RE2's GlobalReplace, where `\0`–`\9` are capture groups and `\\` is a backslash.
 */
function regexRewriter(p: Problems, path: string, rr: envoy.RegexMatchAndSubstitute): ((path: string) => string) | undefined {
  if (!rr.pattern) {
    p.add(at(path, 'pattern'), 'is required');
    return undefined;
  }
  // The matchers package reports the RegexMatcher's own problems (fields, RE2 syntax).
  if (!p.take(compileRegexMatcher(rr.pattern, at(path, 'pattern')))) return undefined;
  const re = RE2JS.compile(rr.pattern.regex);
  const pieces = parseSubstitution(p, at(path, 'substitution'), rr.substitution, re.groupCount());
  if (!pieces) return undefined;
  return (full) => {
    const q = queryStart(full);
    const pathPart = q < 0 ? full : full.slice(0, q);
    const m = re.matcher(pathPart);
    let out = '';
    let last = 0;
    let from = 0;
    while (from <= pathPart.length && m.find(from)) {
      const start = m.start();
      const end = m.end();
      out += pathPart.slice(last, start);
      for (const piece of pieces) out += typeof piece === 'string' ? piece : (m.group(piece) ?? '');
      last = end;
      from = end === start ? end + 1 : end;
    }
    out += pathPart.slice(last);
    return q < 0 ? out : out + full.slice(q);
  };
}

function parseSubstitution(p: Problems, path: string, text: string, groups: number): Array<string | number> | undefined {
  const pieces: Array<string | number> = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      literal += c;
      continue;
    }
    const next = text[i + 1];
    if (next === '\\') {
      literal += '\\';
      i++;
    } else if (next !== undefined && next >= '0' && next <= '9') {
      const group = Number(next);
      if (group > groups) {
        p.add(path, `refers to group \\${group} but the pattern has ${groups} group(s)`);
        return undefined;
      }
      if (literal !== '') pieces.push(literal);
      literal = '';
      pieces.push(group);
      i++;
    } else {
      p.add(path, 'a backslash must be followed by a digit or another backslash (RE2 rewrite syntax)');
      return undefined;
    }
  }
  if (literal !== '') pieces.push(literal);
  return pieces;
}
