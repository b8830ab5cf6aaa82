// RBAC filter configs (HTTP and network) from an access policy plan. Each plan rule becomes one
// RBAC policy: for ingress the peers are principals (`direct_remote_ip`: the socket's peer, which no
// header such as X-Forwarded-For can change); for egress the peer is the original destination, so
// it goes into the permissions as `destination_ip` (the local address the original_dst listener
// filter restored) and the principal is any (the filter chain already picked the endpoint by its
// source address). L7 rules become `header` matchers with RE2 `safe_regex`, which Envoy matches
// against the whole value, as meshd's engine does.
import { create } from '@bufbuild/protobuf';
import {
  PermissionSchema,
  Permission_SetSchema,
  PolicySchema,
  PrincipalSchema,
  Principal_SetSchema,
  RBACSchema as RbacConfigSchema,
  RBAC_Action,
  type Permission,
  type Policy,
  type Principal,
  type RBAC as RbacConfig,
} from '../generated/envoy/config/rbac/v3/rbac_pb.js';
import { RBACSchema as HttpRbacSchema, type RBAC as HttpRbac } from '../generated/envoy/extensions/filters/http/rbac/v3/rbac_pb.js';
import { RBACSchema as NetworkRbacSchema, type RBAC as NetworkRbac } from '../generated/envoy/extensions/filters/network/rbac/v3/rbac_pb.js';
import { CidrRangeSchema, type CidrRange } from '../generated/envoy/config/core/v3/address_pb.js';
import { HeaderMatcherSchema, type HeaderMatcher } from '../generated/envoy/config/route/v3/route_components_pb.js';
import { StringMatcherSchema, type StringMatcher } from '../generated/envoy/type/matcher/v3/string_pb.js';
import { RegexMatcherSchema } from '../generated/envoy/type/matcher/v3/regex_pb.js';
import { Int32RangeSchema } from '../generated/envoy/type/v3/range_pb.js';
import type { AccessPolicyPlan, AccessRulePlan, HeaderPlan, HttpRequestPlan, IpSetPlan, PortRangePlan, PrefixPlan } from './plan.js';
import { serverNameRegex } from './server-names.js';
import { ProblemList, type ResourceProblem } from './problems.js';

/** The HTTP RBAC filters of a chain: a DENY filter (only when there are deny rules), then ALLOW. */
export function buildHttpRbacFilters(access: AccessPolicyPlan): { deny?: HttpRbac; allow: HttpRbac } {
  const deny = access.deny.length > 0 ? create(HttpRbacSchema, { rules: rbacConfig(access, 'deny') }) : undefined;
  const allow = create(HttpRbacSchema, { rules: rbacConfig(access, 'allow') });
  return deny ? { deny, allow } : { allow };
}

export function buildNetworkRbacFilters(access: AccessPolicyPlan): { deny?: NetworkRbac; allow: NetworkRbac } {
  const deny = access.deny.length > 0 ? create(NetworkRbacSchema, { statPrefix: `${access.statPrefix}.deny.`, rules: rbacConfig(access, 'deny') }) : undefined;
  const allow = create(NetworkRbacSchema, { statPrefix: `${access.statPrefix}.allow.`, rules: rbacConfig(access, 'allow') });
  return deny ? { deny, allow } : { allow };
}

function rbacConfig(access: AccessPolicyPlan, which: 'deny' | 'allow'): RbacConfig {
  const policies: Record<string, Policy> = {};
  // Insertion order is the encoding order of map entries: the plan's order, which is stable.
  for (const rule of access[which]) policies[rule.name] = policyOf(access.direction, rule);
  return create(RbacConfigSchema, { action: which === 'deny' ? RBAC_Action.DENY : RBAC_Action.ALLOW, policies });
}

function policyOf(direction: 'ingress' | 'egress', rule: AccessRulePlan): Policy {
  const conditions: Permission[] = [];
  if (direction === 'egress' && rule.peers.kind !== 'any') conditions.push(ipSetPermission(rule.peers));
  if (rule.ports) conditions.push(portPermission(rule.ports));
  if (rule.serverNames.length > 0) conditions.push(anyOf(rule.serverNames.map((p) => permission({ case: 'requestedServerName', value: regexMatcher(serverNameRegex(p)) }))));
  if (rule.requests !== 'any') conditions.push(anyOf(rule.requests.map(requestPermission)));
  const principal = direction === 'ingress' ? ipSetPrincipal(rule.peers) : principalOf({ case: 'any', value: true });
  return create(PolicySchema, { principals: [principal], permissions: [allOf(conditions)] });
}

function requestPermission(request: HttpRequestPlan): Permission {
  if (request.neverMatches !== undefined) return permission({ case: 'notRule', value: permission({ case: 'any', value: true }) });
  const parts: Permission[] = [];
  if (request.method) parts.push(headerPermission({ name: ':method', kind: 'regex', regex: request.method }));
  // `:path` as sent, query string included: url_path would strip the query and let `/public`
  // match `/public?x=1`, which meshd's engine (and Cilium's Envoy translation) do not.
  if (request.path) parts.push(headerPermission({ name: ':path', kind: 'regex', regex: request.path }));
  if (request.host) parts.push(headerPermission({ name: ':authority', kind: 'regex', regex: request.host }));
  for (const header of request.headers) parts.push(headerPermission(header));
  return allOf(parts);
}

function headerPermission(header: HeaderPlan): Permission {
  return permission({ case: 'header', value: headerMatcher(header) });
}

export function headerMatcher(header: HeaderPlan): HeaderMatcher {
  const name = header.name.toLowerCase();
  switch (header.kind) {
    case 'present':
      return create(HeaderMatcherSchema, { name, headerMatchSpecifier: { case: 'presentMatch', value: true } });
    case 'exact':
      return create(HeaderMatcherSchema, { name, headerMatchSpecifier: { case: 'stringMatch', value: create(StringMatcherSchema, { matchPattern: { case: 'exact', value: header.value } }) } });
    case 'regex':
      return create(HeaderMatcherSchema, { name, headerMatchSpecifier: { case: 'stringMatch', value: regexMatcher(header.regex) } });
  }
}

function regexMatcher(regex: string): StringMatcher {
  return create(StringMatcherSchema, { matchPattern: { case: 'safeRegex', value: create(RegexMatcherSchema, { regex }) } });
}

function portPermission(ports: PortRangePlan): Permission {
  if (ports.start === ports.end) return permission({ case: 'destinationPort', value: ports.start });
  // Int32Range is half-open: [start, end).
  return permission({ case: 'destinationPortRange', value: create(Int32RangeSchema, { start: ports.start, end: ports.end + 1 }) });
}

export function cidrRange(prefix: PrefixPlan): CidrRange {
  return create(CidrRangeSchema, { addressPrefix: prefix.address, prefixLen: prefix.length });
}

function ipSetPermission(set: IpSetPlan): Permission {
  switch (set.kind) {
    case 'any':
      return permission({ case: 'any', value: true });
    case 'none':
      return permission({ case: 'notRule', value: permission({ case: 'any', value: true }) });
    case 'prefix':
      return permission({ case: 'destinationIp', value: cidrRange(set.prefix) });
    case 'or':
      return anyOf(set.items.map(ipSetPermission));
    case 'and':
      return allOf(set.items.map(ipSetPermission));
    case 'not':
      return permission({ case: 'notRule', value: ipSetPermission(set.item) });
  }
}

function ipSetPrincipal(set: IpSetPlan): Principal {
  switch (set.kind) {
    case 'any':
      return principalOf({ case: 'any', value: true });
    case 'none':
      return principalOf({ case: 'notId', value: principalOf({ case: 'any', value: true }) });
    case 'prefix':
      return principalOf({ case: 'directRemoteIp', value: cidrRange(set.prefix) });
    case 'or':
      return set.items.length === 1 ? ipSetPrincipal(set.items[0]!) : principalOf({ case: 'orIds', value: create(Principal_SetSchema, { ids: set.items.map(ipSetPrincipal) }) });
    case 'and':
      return set.items.length === 1 ? ipSetPrincipal(set.items[0]!) : principalOf({ case: 'andIds', value: create(Principal_SetSchema, { ids: set.items.map(ipSetPrincipal) }) });
    case 'not':
      return principalOf({ case: 'notId', value: ipSetPrincipal(set.item) });
  }
}

function permission(rule: Permission['rule']): Permission {
  return create(PermissionSchema, { rule });
}

function principalOf(identifier: Principal['identifier']): Principal {
  return create(PrincipalSchema, { identifier });
}

/** AND of the parts; one part stands alone, none is `any` (PGV wants a non-empty set). */
function allOf(parts: Permission[]): Permission {
  if (parts.length === 0) return permission({ case: 'any', value: true });
  if (parts.length === 1) return parts[0]!;
  return permission({ case: 'andRules', value: create(Permission_SetSchema, { rules: parts }) });
}

/** OR of the parts; none matches nothing. */
function anyOf(parts: Permission[]): Permission {
  if (parts.length === 0) return permission({ case: 'notRule', value: permission({ case: 'any', value: true }) });
  if (parts.length === 1) return parts[0]!;
  return permission({ case: 'orRules', value: create(Permission_SetSchema, { rules: parts }) });
}

// ---- validation ----------------------------------------------------------------------------

/** Problems in an RBAC config (the `rules` of either filter), with paths below `rules`. */
export function validateRbacConfig(config: RbacConfig | undefined): ResourceProblem[] {
  const p = new ProblemList();
  if (!config) {
    p.add('', 'rules missing');
    return p.items;
  }
  for (const [name, policy] of Object.entries(config.policies)) {
    const at = `policies["${name}"]`;
    if (name === '') p.add(at, 'policy name must not be empty');
    if (policy.principals.length === 0) p.add(`${at}.principals`, 'must have at least one principal');
    if (policy.permissions.length === 0) p.add(`${at}.permissions`, 'must have at least one permission');
    policy.principals.forEach((pr, i) => checkPrincipal(p, `${at}.principals[${i}]`, pr));
    policy.permissions.forEach((pe, i) => checkPermission(p, `${at}.permissions[${i}]`, pe));
  }
  return p.items;
}

function checkPermission(p: ProblemList, path: string, perm: Permission): void {
  const { rule } = perm;
  switch (rule.case) {
    case 'andRules':
    case 'orRules':
      if (rule.value.rules.length === 0) p.add(`${path}.${snake(rule.case)}.rules`, 'must not be empty');
      rule.value.rules.forEach((r, i) => checkPermission(p, `${path}.${snake(rule.case)}.rules[${i}]`, r));
      return;
    case 'notRule':
      checkPermission(p, `${path}.not_rule`, rule.value);
      return;
    case 'header':
      checkHeaderMatcher(p, `${path}.header`, rule.value);
      return;
    case 'destinationIp':
      p.cidr(`${path}.destination_ip`, rule.value.addressPrefix, rule.value.prefixLen);
      return;
    case 'destinationPort':
      p.port(`${path}.destination_port`, rule.value);
      return;
    case 'destinationPortRange':
      if (!(rule.value.start >= 0 && rule.value.end <= 65536 && rule.value.start < rule.value.end)) {
        p.add(`${path}.destination_port_range`, `[${rule.value.start}, ${rule.value.end}) is not a port range`);
      }
      return;
    case 'requestedServerName':
      checkStringMatcher(p, `${path}.requested_server_name`, rule.value);
      return;
    case 'any':
      return;
    case undefined:
      p.add(path, 'permission has no rule');
      return;
    default:
      p.add(path, `meshd does not generate permission kind ${rule.case}`);
  }
}

function checkPrincipal(p: ProblemList, path: string, principal: Principal): void {
  const { identifier } = principal;
  switch (identifier.case) {
    case 'andIds':
    case 'orIds':
      if (identifier.value.ids.length === 0) p.add(`${path}.${snake(identifier.case)}.ids`, 'must not be empty');
      identifier.value.ids.forEach((id, i) => checkPrincipal(p, `${path}.${snake(identifier.case)}.ids[${i}]`, id));
      return;
    case 'notId':
      checkPrincipal(p, `${path}.not_id`, identifier.value);
      return;
    case 'directRemoteIp':
      p.cidr(`${path}.direct_remote_ip`, identifier.value.addressPrefix, identifier.value.prefixLen);
      return;
    case 'any':
      return;
    case undefined:
      p.add(path, 'principal has no identifier');
      return;
    default:
      p.add(path, `meshd does not generate principal kind ${identifier.case}`);
  }
}

export function checkHeaderMatcher(p: ProblemList, path: string, header: HeaderMatcher): void {
  p.nonEmpty(`${path}.name`, header.name);
  if (header.name !== header.name.toLowerCase()) p.add(`${path}.name`, `"${header.name}" is not lower-case`);
  const spec = header.headerMatchSpecifier;
  if (spec.case === 'stringMatch') checkStringMatcher(p, `${path}.string_match`, spec.value);
  else if (spec.case !== 'presentMatch') p.add(path, `meshd does not generate header match kind ${String(spec.case)}`);
}

function checkStringMatcher(p: ProblemList, path: string, matcher: StringMatcher): void {
  const { matchPattern } = matcher;
  if (matchPattern.case === 'safeRegex') {
    if (matchPattern.value.regex === '') p.add(`${path}.safe_regex.regex`, 'must not be empty');
    else p.regex(`${path}.safe_regex.regex`, matchPattern.value.regex);
  } else if (matchPattern.case === undefined) {
    p.add(path, 'string matcher has no pattern');
  }
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export { HttpRbacSchema, NetworkRbacSchema };
