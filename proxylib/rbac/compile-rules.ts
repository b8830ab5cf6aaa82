// Envoy's RBAC rules (envoy.config.rbac.v3.RBAC: action + named policies of permissions and
// principals) compiled into one closure tree per policy, evaluated without interpretation.
//
// Semantics are Envoy's RoleBasedAccessControlEngineImpl and matchers.cc:
// - a policy matches when ANY of its permissions and ANY of its principals match (and its condition,
//   which meshd does not implement: a problem);
// - policies are tried in the order of their names, byte-wise (Envoy keeps them in a std::map), and
//   the first one that matches is the reported policy — that is also Envoy's effective_policy_id;
// - ALLOW allows iff a policy matches, DENY denies iff one matches, LOG always allows;
// - `header` rules on a network filter see no headers at all and `url_path` never matches there
//   (Envoy passes an empty header map); `url_path` matches the path without query and fragment;
// - destination_ip/port are the connection's local address after original_dst; `source_ip` is the
//   connection's peer, like `direct_remote_ip`; `remote_ip` is RbacContext.remoteIp;
// - `authenticated` needs a TLS downstream; without `principal_name` any TLS connection matches;
//   with it, the URI SANs, then the DNS SANs, then the subject of the peer certificate are tried.
// Every construct the proxy does not implement (metadata, filter_state, matcher, uri_template, CEL
// conditions, audit logging) is a problem with its field path, so the update is NACKed rather than
// enforced differently from Envoy.
import type { envoy } from '../../xds/index.js';
import type { Compiled, ConfigProblem } from '../config/types.js';
import {
  compileCidrRange,
  compileHeaderMatcherWithName,
  compileStringMatcher,
  NOT_IMPLEMENTED,
  type HeaderLookup,
  type StringPredicate,
} from '../matchers/index.js';
import type { RbacContext } from './types.js';

export type Rule = (ctx: RbacContext) => boolean;

export interface CompiledPolicy {
  readonly name: string;
  /** principal && permission: the whole policy. */
  readonly matches: Rule;
  readonly principal: Rule;
  readonly permission: Rule;
  /** The principal reads nothing but directRemoteIp and remoteIp, so its answer can be cached per peer. */
  readonly principalByPeerOnly: boolean;
  /** A necessary condition of the policy, tested first to skip it cheaply (see HeaderRequirement). */
  readonly requirement?: HeaderRequirement;
}

/**
 * The policy can only match when header `header` (looked up as the header rules do) is present and
 * starts with `prefix`; derived from `header` rules whose matcher needs a literal prefix (meshd's
 * translation writes `:path` rules as `/api/v1/x/.*`), so a request skips most non-matching
 * policies with one startsWith instead of their matcher chains. Only an optimization: a policy
 * that passes it is still evaluated whole.
 */
export interface HeaderRequirement {
  readonly header: string;
  readonly prefix: string;
}

export interface CompiledRules {
  readonly action: 'ALLOW' | 'DENY' | 'LOG';
  /** Sorted by name, byte-wise (Envoy's std::map order). */
  readonly policies: readonly CompiledPolicy[];
}

// Numeric values of envoy.config.rbac.v3.RBAC.Action (the enum is not re-exported as a value).
const ACTION_BY_NUMBER: Record<number, CompiledRules['action'] | undefined> = { 0: 'ALLOW', 1: 'DENY', 2: 'LOG' };

const NO_HEADERS: HeaderLookup = () => undefined;

/** Compiles `rules` found at `path` (e.g. `typed_config.rules`). */
export function compileRules(rules: envoy.RBAC, path: string): Compiled<CompiledRules> {
  const problems: ConfigProblem[] = [];
  const action = ACTION_BY_NUMBER[rules.action];
  if (action === undefined) problems.push({ path: `${path}.action`, message: `unknown action ${rules.action}` });
  if (rules.auditLoggingOptions !== undefined) problems.push({ path: `${path}.audit_logging_options`, message: NOT_IMPLEMENTED });
  const names = Object.keys(rules.policies).sort(compareBytes);
  const policies: CompiledPolicy[] = [];
  for (const name of names) {
    const policy = rules.policies[name];
    if (policy === undefined) continue;
    const compiled = compilePolicy(policy, `${path}.policies["${name}"]`);
    if (compiled.ok) policies.push({ name, ...compiled.value });
    else problems.push(...compiled.problems);
  }
  if (problems.length > 0 || action === undefined) return { ok: false, problems };
  return { ok: true, value: { action, policies }, warnings: [] };
}

/** Byte-wise order of the names' UTF-8 encodings, as std::string's operator< orders them. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function compilePolicy(policy: envoy.Policy, path: string): Compiled<Omit<CompiledPolicy, 'name'>> {
  const problems: ConfigProblem[] = [];
  if (policy.condition !== undefined) problems.push({ path: `${path}.condition`, message: NOT_IMPLEMENTED });
  if (policy.checkedCondition !== undefined) problems.push({ path: `${path}.checked_condition`, message: NOT_IMPLEMENTED });
  if (policy.permissions.length === 0) problems.push({ path: `${path}.permissions`, message: 'must have at least one permission' });
  if (policy.principals.length === 0) problems.push({ path: `${path}.principals`, message: 'must have at least one principal' });
  const permissions = policy.permissions.map((p, i) => collect(problems, compilePermission(p, `${path}.permissions[${i}]`)));
  const principals = policy.principals.map((p, i) => collect(problems, compilePrincipal(p, `${path}.principals[${i}]`)));
  if (problems.length > 0) return { ok: false, problems };
  const permission = anyOf(permissions as Rule[]);
  const principal = anyOf(principals as Rule[]);
  // Envoy tests permissions first; every rule here is a pure function of the context, so testing
  // the cheaper side first (principals are mostly CIDRs, permissions mostly regexes) decides the
  // same and skips the regexes of policies whose peers do not match.
  const [first, second] = costOf(principal) <= costOf(permission) ? [principal, permission] : [permission, principal];
  const matches = withCost((ctx) => first(ctx) && second(ctx), costOf(first) + costOf(second));
  const principalByPeerOnly = (principals as Rule[]).every((r) => peerOnly.has(r));
  const requirement = requirements.get(permission) ?? requirements.get(principal);
  return ok(requirement === undefined ? { matches, principal, permission, principalByPeerOnly } : { matches, principal, permission, principalByPeerOnly, requirement });
}

function compilePermission(perm: envoy.Permission, path: string): Compiled<Rule> {
  const { rule } = perm;
  switch (rule.case) {
    case 'andRules':
    case 'orRules': {
      const at = `${path}.${rule.case === 'andRules' ? 'and_rules' : 'or_rules'}.rules`;
      if (rule.value.rules.length === 0) return fail(at, 'must not be empty');
      const problems: ConfigProblem[] = [];
      const parts = rule.value.rules.map((r, i) => collect(problems, compilePermission(r, `${at}[${i}]`)));
      if (problems.length > 0) return { ok: false, problems };
      return ok(rule.case === 'andRules' ? allOf(parts as Rule[]) : anyOf(parts as Rule[]));
    }
    case 'any':
      return rule.value ? ok(ALWAYS) : fail(`${path}.any`, 'must be true');
    case 'header':
      return headerRule(rule.value, `${path}.header`);
    case 'urlPath':
      return urlPathRule(rule.value, `${path}.url_path`);
    case 'destinationIp':
      return ipRule(rule.value, `${path}.destination_ip`, 'destinationIp');
    case 'destinationPort': {
      const port = rule.value;
      if (port > 65535) return fail(`${path}.destination_port`, `${port} is not a port`);
      return ok(withCost((ctx) => ctx.destinationPort === port, COST.port));
    }
    case 'destinationPortRange': {
      const { start, end } = rule.value;
      const at = `${path}.destination_port_range`;
      if (start < 0 || start > 65536) return fail(`${at}.start`, `range start ${start} is out of bounds`);
      if (end < 0 || end > 65536) return fail(`${at}.end`, `range end ${end} is out of bounds`);
      if (start >= end) return fail(at, `range start ${start} must be less than range end ${end} (the range is [start, end))`);
      return ok(withCost((ctx) => ctx.destinationPort >= start && ctx.destinationPort < end, COST.port));
    }
    case 'notRule': {
      const inner = compilePermission(rule.value, `${path}.not_rule`);
      if (!inner.ok) return inner;
      const m = inner.value;
      return ok(withCost((ctx) => !m(ctx), costOf(m)));
    }
    case 'requestedServerName': {
      const compiled = compileStringMatcher(rule.value, `${path}.requested_server_name`);
      if (!compiled.ok) return compiled;
      const test = compiled.value;
      return ok(withCost((ctx) => test(ctx.requestedServerName), COST.string));
    }
    case 'metadata':
      return fail(`${path}.metadata`, NOT_IMPLEMENTED);
    case 'matcher':
      return fail(`${path}.matcher`, NOT_IMPLEMENTED);
    case 'uriTemplate':
      return fail(`${path}.uri_template`, NOT_IMPLEMENTED);
    case undefined:
      return fail(path, 'permission has no rule');
  }
}

function compilePrincipal(principal: envoy.Principal, path: string): Compiled<Rule> {
  const compiled = compilePrincipalRule(principal, path);
  if (compiled.ok && readsPeerOnly(principal)) peerOnly.add(compiled.value);
  return compiled;
}

/** Rules (principals) whose answer depends on directRemoteIp and remoteIp alone. */
const peerOnly = new WeakSet<Rule>();

function readsPeerOnly(principal: envoy.Principal): boolean {
  const { identifier } = principal;
  switch (identifier.case) {
    case 'any':
    case 'sourceIp':
    case 'directRemoteIp':
    case 'remoteIp':
      return true;
    case 'andIds':
    case 'orIds':
      return identifier.value.ids.every(readsPeerOnly);
    case 'notId':
      return readsPeerOnly(identifier.value);
    default:
      return false;
  }
}

function compilePrincipalRule(principal: envoy.Principal, path: string): Compiled<Rule> {
  const { identifier } = principal;
  switch (identifier.case) {
    case 'andIds':
    case 'orIds': {
      const at = `${path}.${identifier.case === 'andIds' ? 'and_ids' : 'or_ids'}.ids`;
      if (identifier.value.ids.length === 0) return fail(at, 'must not be empty');
      const problems: ConfigProblem[] = [];
      const parts = identifier.value.ids.map((id, i) => collect(problems, compilePrincipal(id, `${at}[${i}]`)));
      if (problems.length > 0) return { ok: false, problems };
      return ok(identifier.case === 'andIds' ? allOf(parts as Rule[]) : anyOf(parts as Rule[]));
    }
    case 'any':
      return identifier.value ? ok(ALWAYS) : fail(`${path}.any`, 'must be true');
    case 'authenticated':
      return authenticatedRule(identifier.value, `${path}.authenticated`);
    case 'sourceIp':
      return ipRule(identifier.value, `${path}.source_ip`, 'directRemoteIp');
    case 'directRemoteIp':
      return ipRule(identifier.value, `${path}.direct_remote_ip`, 'directRemoteIp');
    case 'remoteIp':
      return ipRule(identifier.value, `${path}.remote_ip`, 'remoteIp');
    case 'header':
      return headerRule(identifier.value, `${path}.header`);
    case 'urlPath':
      return urlPathRule(identifier.value, `${path}.url_path`);
    case 'notId': {
      const inner = compilePrincipal(identifier.value, `${path}.not_id`);
      if (!inner.ok) return inner;
      const m = inner.value;
      return ok(withCost((ctx) => !m(ctx), costOf(m)));
    }
    case 'metadata':
      return fail(`${path}.metadata`, NOT_IMPLEMENTED);
    case 'filterState':
      return fail(`${path}.filter_state`, NOT_IMPLEMENTED);
    case undefined:
      return fail(path, 'principal has no identifier');
  }
}

function headerRule(m: envoy.HeaderMatcher, path: string): Compiled<Rule> {
  const compiled = compileHeaderMatcherWithName(m, path);
  if (!compiled.ok) return compiled;
  const { matches, name, requiredPrefix } = compiled.value;
  const rule: Rule = (ctx) => matches(ctx.header ?? NO_HEADERS);
  if (requiredPrefix !== undefined) requirements.set(rule, { header: name, prefix: requiredPrefix });
  return ok(rule);
}

/** Rules that need a header prefix (HeaderRequirement); AND passes one of its parts' on. */
const requirements = new WeakMap<Rule, HeaderRequirement>();

/** Looks a header up the way header rules do (no header map: absent). */
export function headerOfContext(ctx: RbacContext, name: string): string | undefined {
  return (ctx.header ?? NO_HEADERS)(name);
}

function urlPathRule(m: envoy.PathMatcher, path: string): Compiled<Rule> {
  if (m.rule.case !== 'path') return fail(path, 'path matcher has no `path` string matcher');
  const compiled = compileStringMatcher(m.rule.value, `${path}.path`, 'bytes');
  if (!compiled.ok) return compiled;
  const test = compiled.value;
  return ok((ctx) => ctx.urlPath !== undefined && test(ctx.urlPath));
}

function ipRule(range: envoy.CidrRange, path: string, field: 'directRemoteIp' | 'remoteIp' | 'destinationIp'): Compiled<Rule> {
  const compiled = compileCidrRange(range, path);
  if (!compiled.ok) return compiled;
  const contains = compiled.value;
  // One closure per field rather than a field-reader callback: the call stays monomorphic.
  switch (field) {
    case 'directRemoteIp':
      return ok(withCost((ctx) => contains(ctx.directRemoteIp), COST.ip));
    case 'remoteIp':
      return ok(withCost((ctx) => contains(ctx.remoteIp), COST.ip));
    case 'destinationIp':
      return ok(withCost((ctx) => contains(ctx.destinationIp), COST.ip));
  }
}

function authenticatedRule(m: envoy.Principal_Authenticated, path: string): Compiled<Rule> {
  if (m.principalName === undefined) return ok((ctx) => isTls(ctx));
  const compiled = compileStringMatcher(m.principalName, `${path}.principal_name`);
  if (!compiled.ok) return compiled;
  const test: StringPredicate = compiled.value;
  return ok((ctx) => {
    if (!isTls(ctx)) return false;
    const cert = ctx.peerCertificate;
    if (cert === undefined) return test('');
    for (const uri of cert.uriSans) if (test(uri)) return true;
    for (const dns of cert.dnsSans) if (test(dns)) return true;
    return test(cert.subject);
  });
}

function isTls(ctx: RbacContext): boolean {
  return ctx.downstreamTls === true || ctx.peerCertificate !== undefined;
}

const ALWAYS: Rule = () => true;

// Rough evaluation costs, so AND/OR test cheap parts first (same result: the parts are pure).
const COST = { always: 0, port: 1, ip: 2, string: 4, header: 6 } as const;
const costs = new WeakMap<Rule, number>();

function withCost(rule: Rule, cost: number): Rule {
  costs.set(rule, cost);
  return rule;
}

function costOf(rule: Rule): number {
  return rule === ALWAYS ? 0 : (costs.get(rule) ?? COST.header);
}

function byCost(rules: Rule[]): Rule[] {
  return [...rules].sort((a, b) => costOf(a) - costOf(b));
}

function anyOf(input: Rule[]): Rule {
  if (input.length === 1) return input[0]!;
  if (input.some((r) => r === ALWAYS)) return ALWAYS;
  const rules = byCost(input);
  const cost = rules.reduce((n, r) => n + costOf(r), 0);
  return withCost((ctx) => {
    for (let i = 0; i < rules.length; i++) if (rules[i]!(ctx)) return true;
    return false;
  }, cost);
}

function allOf(input: Rule[]): Rule {
  const needed = byCost(input.filter((r) => r !== ALWAYS));
  if (needed.length === 0) return ALWAYS;
  if (needed.length === 1) return needed[0]!;
  const cost = needed.reduce((n, r) => n + costOf(r), 0);
  const requirement = needed.map((r) => requirements.get(r)).find((r) => r !== undefined);
  const all: Rule =
    needed.length === 2
      ? ((a: Rule, b: Rule): Rule => (ctx) => a(ctx) && b(ctx))(needed[0]!, needed[1]!)
      : (ctx) => {
          for (let i = 0; i < needed.length; i++) if (!needed[i]!(ctx)) return false;
          return true;
        };
  // Every part must match, so any part's requirement is the whole AND's.
  if (requirement !== undefined) requirements.set(all, requirement);
  return withCost(all, cost);
}

function collect(problems: ConfigProblem[], compiled: Compiled<Rule>): Rule | undefined {
  if (compiled.ok) return compiled.value;
  problems.push(...compiled.problems);
  return undefined;
}

function ok<T>(value: T): Compiled<T> {
  return { ok: true, value, warnings: [] };
}

function fail<T>(path: string, message: string): Compiled<T> {
  return { ok: false, problems: [{ path, message }] };
}
