// The HTTP and network RBAC filter configs (envoy.extensions.filters.{http,network}.rbac.v3.RBAC)
// compiled into RbacFilter objects.
//
// The network filter refuses `header` permissions and principals, as Envoy does; `url_path` is
// accepted there (Envoy does not check it) and never matches, a connection having no path.
// A filter without `rules` enforces nothing (action 'NONE', as Envoy: "if absent, no enforcing RBAC
// policy will be applied"). `shadow_rules` are evaluated too, only to name the shadow policy that
// matched in the decision. The matcher-tree forms (`matcher`, `shadow_matcher`) are not implemented:
// problems. Stat prefixes and per-rule stats only name counters, so they are accepted. The network
// filter's enforcement_type makes no difference here: CONTINUOUS only re-evaluates when dynamic
// metadata changes, and meshd's rules cannot read metadata.
import type { envoy } from '../../xds/index.js';
import type { Compiled, ConfigProblem } from '../config/types.js';
import { NOT_IMPLEMENTED } from '../matchers/index.js';
import { compileRules, headerOfContext, type CompiledPolicy, type CompiledRules } from './compile-rules.js';
import type { RbacContext, RbacDecision, RbacFilter } from './types.js';

export const HTTP_RBAC_FILTER_NAME = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER_NAME = 'envoy.filters.network.rbac';

/** `path` is the filter config's own path (e.g. `...http_filters[0].typed_config`). */
export function compileHttpRbac(config: envoy.HttpRbac, path: string, name: string = HTTP_RBAC_FILTER_NAME): Compiled<RbacFilter> {
  const problems: ConfigProblem[] = [];
  if (config.matcher !== undefined) problems.push({ path: `${path}.matcher`, message: NOT_IMPLEMENTED });
  if (config.shadowMatcher !== undefined) problems.push({ path: `${path}.shadow_matcher`, message: NOT_IMPLEMENTED });
  return build(config.rules, config.shadowRules, path, name, problems);
}

export function compileNetworkRbac(config: envoy.NetworkRbac, path: string, name: string = NETWORK_RBAC_FILTER_NAME): Compiled<RbacFilter> {
  const problems: ConfigProblem[] = [];
  if (config.statPrefix === '') problems.push({ path: `${path}.stat_prefix`, message: 'must not be empty' });
  if (config.matcher !== undefined) problems.push({ path: `${path}.matcher`, message: NOT_IMPLEMENTED });
  if (config.shadowMatcher !== undefined) problems.push({ path: `${path}.shadow_matcher`, message: NOT_IMPLEMENTED });
  if (config.enforcementType !== 0 && config.enforcementType !== 1) {
    problems.push({ path: `${path}.enforcement_type`, message: `unknown enforcement type ${config.enforcementType}` });
  }
  // Envoy refuses `header` rules in the network filter (there are no headers on a connection).
  if (config.rules) problems.push(...headerRules(config.rules, `${path}.rules`));
  if (config.shadowRules) problems.push(...headerRules(config.shadowRules, `${path}.shadow_rules`));
  if (problems.length > 0) return { ok: false, problems };
  return build(config.rules, config.shadowRules, path, name, problems);
}

const NO_HEADERS_HERE = 'header rules are not supported by the network RBAC filter (Envoy rejects them: a connection has no headers)';

function headerRules(rules: envoy.RBAC, path: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const permission = (p: envoy.Permission, at: string): void => {
    const { rule } = p;
    if (rule.case === 'header') out.push({ path: `${at}.header`, message: NO_HEADERS_HERE });
    else if (rule.case === 'andRules' || rule.case === 'orRules') {
      const field = rule.case === 'andRules' ? 'and_rules' : 'or_rules';
      rule.value.rules.forEach((r, i) => permission(r, `${at}.${field}.rules[${i}]`));
    } else if (rule.case === 'notRule') permission(rule.value, `${at}.not_rule`);
  };
  const principal = (p: envoy.Principal, at: string): void => {
    const { identifier } = p;
    if (identifier.case === 'header') out.push({ path: `${at}.header`, message: NO_HEADERS_HERE });
    else if (identifier.case === 'andIds' || identifier.case === 'orIds') {
      const field = identifier.case === 'andIds' ? 'and_ids' : 'or_ids';
      identifier.value.ids.forEach((r, i) => principal(r, `${at}.${field}.ids[${i}]`));
    } else if (identifier.case === 'notId') principal(identifier.value, `${at}.not_id`);
  };
  for (const name of Object.keys(rules.policies)) {
    const policy = rules.policies[name]!;
    policy.permissions.forEach((p, i) => permission(p, `${path}.policies["${name}"].permissions[${i}]`));
    policy.principals.forEach((p, i) => principal(p, `${path}.policies["${name}"].principals[${i}]`));
  }
  return out;
}

function build(
  rulesConfig: envoy.RBAC | undefined,
  shadowConfig: envoy.RBAC | undefined,
  path: string,
  name: string,
  problems: ConfigProblem[],
): Compiled<RbacFilter> {
  let rules: CompiledRules | undefined;
  let shadow: CompiledRules | undefined;
  if (rulesConfig !== undefined) {
    const compiled = compileRules(rulesConfig, `${path}.rules`);
    if (compiled.ok) rules = compiled.value;
    else problems.push(...compiled.problems);
  }
  if (shadowConfig !== undefined) {
    const compiled = compileRules(shadowConfig, `${path}.shadow_rules`);
    if (compiled.ok) shadow = compiled.value;
    else problems.push(...compiled.problems);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: makeFilter(name, rules, shadow), warnings: [] };
}

function makeFilter(name: string, rules: CompiledRules | undefined, shadow: CompiledRules | undefined): RbacFilter {
  const action = rules?.action ?? 'NONE';
  // Decisions are shared frozen objects (one per policy and outcome), so evaluating allocates
  // nothing unless shadow rules are configured.
  const decide = rules ? decider(rules) : constant(Object.freeze({ allowed: true, policy: undefined }));
  const evaluate: (ctx: RbacContext) => RbacDecision = shadow
    ? (ctx) => {
        const d = decide(ctx);
        return { allowed: d.allowed, policy: d.policy, shadowPolicy: firstMatch(shadow.policies, ctx)?.name };
      }
    : decide;
  return Object.freeze({ name, action, evaluate });
}

// Distinct peers remembered per filter; a proxy sees a bounded set of pods, and the cache only
// saves work, so evicting the oldest entry is enough.
const PEER_CACHE_MAX = 4096;

function decider(rules: CompiledRules): (ctx: RbacContext) => RbacDecision {
  // What a match of each policy decides (index-aligned with the policies), and what no match decides.
  const allowedIfMatched = rules.action !== 'DENY';
  const allowedIfNone = rules.action !== 'ALLOW';
  const { policies } = rules;
  const onMatch: RbacDecision[] = policies.map((p) => Object.freeze({ allowed: allowedIfMatched, policy: p.name }));
  const none: RbacDecision = Object.freeze({ allowed: allowedIfNone, policy: undefined });
  const matchers = policies.map((p) => p.matches);
  // Below a few policies the index costs more than the evaluations it skips.
  const prefilter = policies.length >= 4 ? prefilterOf(policies) : undefined;
  if (!policies.some((p) => p.principalByPeerOnly) || policies.length < 2) {
    if (prefilter === undefined) {
      return (ctx) => {
        for (let i = 0; i < matchers.length; i++) if (matchers[i]!(ctx)) return onMatch[i]!;
        return none;
      };
    }
    const { required, stamps } = prefilter;
    return (ctx) => {
      const epoch = prefilter.mark(ctx);
      for (let i = 0; i < matchers.length; i++) {
        if (required[i] === 1 && stamps[i] !== epoch) continue;
        if (matchers[i]!(ctx)) return onMatch[i]!;
      }
      return none;
    };
  }
  // Principals that read only the peer's address give the same answer for every request of that
  // peer: remember, per peer, which policies can still match (in order), and test only their
  // permissions. Policies whose principal reads more are kept as candidates and tested whole.
  const candidatesByPeer = new Map<string, Int32Array>();
  const candidatesOf = (ctx: RbacContext): Int32Array => {
    const key = ctx.remoteIp === ctx.directRemoteIp ? ctx.directRemoteIp : `${ctx.directRemoteIp} ${ctx.remoteIp}`;
    let candidates = candidatesByPeer.get(key);
    if (candidates === undefined) {
      const list: number[] = [];
      for (let i = 0; i < policies.length; i++) {
        const p = policies[i]!;
        if (!p.principalByPeerOnly || p.principal(ctx)) list.push(i);
      }
      candidates = Int32Array.from(list);
      if (candidatesByPeer.size >= PEER_CACHE_MAX) candidatesByPeer.delete(candidatesByPeer.keys().next().value as string);
      candidatesByPeer.set(key, candidates);
    }
    return candidates;
  };
  const tests = policies.map((p) => (p.principalByPeerOnly ? p.permission : p.matches));
  if (prefilter === undefined) {
    return (ctx) => {
      const candidates = candidatesOf(ctx);
      for (let k = 0; k < candidates.length; k++) {
        const i = candidates[k]!;
        if (tests[i]!(ctx)) return onMatch[i]!;
      }
      return none;
    };
  }
  const { required, stamps } = prefilter;
  return (ctx) => {
    const candidates = candidatesOf(ctx);
    const epoch = prefilter.mark(ctx);
    for (let k = 0; k < candidates.length; k++) {
      const i = candidates[k]!;
      if (required[i] === 1 && stamps[i] !== epoch) continue;
      if (tests[i]!(ctx)) return onMatch[i]!;
    }
    return none;
  };
}

/**
 * Policies' HeaderRequirements (compile-rules.ts) indexed so one evaluation finds every policy whose
 * requirement holds with one Map lookup per distinct (header, prefix length) — not one startsWith
 * per policy, which costs ~50 ns in V8 and adds up to microseconds with a hundred policies.
 * mark(ctx) stamps those policies with a fresh epoch; a policy with a requirement and an older stamp
 * cannot match and is skipped. Only an optimization: a stamped policy is still evaluated whole.
 */
interface Prefilter {
  /** 1 where the policy has a requirement. */
  readonly required: Uint8Array;
  /** stamps[i] === the epoch mark() returned: policy i's requirement holds for that context. */
  readonly stamps: Int32Array;
  mark(ctx: RbacContext): number;
}

interface PrefixGroup {
  readonly length: number;
  readonly policiesByPrefix: Map<string, number[]>;
}

function prefilterOf(policies: readonly CompiledPolicy[]): Prefilter | undefined {
  const required = new Uint8Array(policies.length);
  const byHeader = new Map<string, Map<number, Map<string, number[]>>>();
  policies.forEach((p, i) => {
    const r = p.requirement;
    if (r === undefined) return;
    required[i] = 1;
    let byLength = byHeader.get(r.header);
    if (byLength === undefined) byHeader.set(r.header, (byLength = new Map()));
    let byPrefix = byLength.get(r.prefix.length);
    if (byPrefix === undefined) byLength.set(r.prefix.length, (byPrefix = new Map()));
    const list = byPrefix.get(r.prefix);
    if (list === undefined) byPrefix.set(r.prefix, [i]);
    else list.push(i);
  });
  if (byHeader.size === 0) return undefined;
  const headers = [...byHeader].map(([header, byLength]) => ({
    header,
    // Ascending, so a value shorter than a group ends the scan of that header.
    groups: [...byLength].sort((a, b) => a[0] - b[0]).map(([length, policiesByPrefix]): PrefixGroup => ({ length, policiesByPrefix })),
  }));
  const stamps = new Int32Array(policies.length);
  let epoch = 0;
  return {
    required,
    stamps,
    mark(ctx) {
      if (++epoch === 0x7fffffff) {
        stamps.fill(0);
        epoch = 1;
      }
      for (let h = 0; h < headers.length; h++) {
        const { header, groups } = headers[h]!;
        const value = headerOfContext(ctx, header);
        if (value === undefined) continue;
        for (let g = 0; g < groups.length; g++) {
          const { length, policiesByPrefix } = groups[g]!;
          if (value.length < length) break;
          const hits = policiesByPrefix.get(length === value.length ? value : value.slice(0, length));
          if (hits !== undefined) for (let k = 0; k < hits.length; k++) stamps[hits[k]!] = epoch;
        }
      }
      return epoch;
    },
  };
}

function firstMatch(policies: readonly CompiledPolicy[], ctx: RbacContext): CompiledPolicy | undefined {
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i]!;
    if (p.matches(ctx)) return p;
  }
  return undefined;
}

function constant(decision: RbacDecision): (ctx: RbacContext) => RbacDecision {
  return () => decision;
}
