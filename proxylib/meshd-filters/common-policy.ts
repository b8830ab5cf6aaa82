// What meshd's own filter configs (meshd.filters.<protocol>.v1.<Protocol>Policy) have in common,
// checked in one place: the types of meshd/filters/common/v1/policy.proto (Direction, Remotes,
// PortRange, DenyRule, Upstream), the peer rules built from them, and the reflection walk that
// refuses every set field a filter does not implement. Each protocol's compiler (proxylib/dns,
// proxylib/kafka) adds its own fields and rules' payload.
import type { DescMessage, Message, MessageShape } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { envoy } from '../../xds/index.js';
import { NOT_IMPLEMENTED, type Problems } from '../config/problems.js';

/** The fields a filter implements, by message type name. */
export type SupportedFilterFields = Readonly<Record<string, ReadonlySet<string>>>;

/**
 * The fields every <Protocol>Policy has. endpoint_ips and
 * destination_ports pick the policy on a UDP listener; a TCP listener picks it by its filter chain
 * match, so there they are informational.
 */
export const COMMON_POLICY_FIELDS: readonly string[] = [
  'stat_prefix',
  'endpoint',
  'direction',
  'default_deny',
  'deny_rules',
  'rules',
  'upstream',
  'endpoint_ips',
  'destination_ports',
];

const COMMON = 'meshd.filters.common.v1.';
/** The common messages' fields: every filter implements all of them. */
const COMMON_SUPPORTED_FIELDS: SupportedFilterFields = {
  [`${COMMON}DenyRule`]: new Set(['name', 'remotes', 'ports']),
  [`${COMMON}Remotes`]: new Set(['any', 'identities']),
  [`${COMMON}PortRange`]: new Set(['start', 'end']),
  [`${COMMON}Upstream`]: new Set(['cluster']),
};

/** Inclusive destination port range. */
export interface FilterPortRange {
  start: number;
  end: number;
}

/** A peer (identities) a rule is for, on the destination ports it covers. */
export interface PeerMatch {
  /** The rule's origin (policy and rule path), for flow records. */
  name: string;
  anyRemote: boolean;
  identities: ReadonlySet<number>;
  /** Inclusive; undefined = every port the listener receives. */
  ports: FilterPortRange | undefined;
}

export function joinPath(base: string, rel: string): string {
  return base === '' ? rel : `${base}.${rel}`;
}

/**
 * Returns `config` as the schema's message after reporting every set field `supported` does not
 * list (recursively), or undefined (with a problem) when it is another message type. Every set
 * field not listed is a problem, so a field added to the proto later is refused until the filter
 * implements it (the rule proxylib/config/supported-fields.ts applies to Envoy's types).
 */
export function checkedFilterConfig<Desc extends DescMessage>(config: Message, schema: Desc, supported: SupportedFilterFields, path: string, problems: Problems): MessageShape<Desc> | undefined {
  if (config.$typeName !== schema.typeName) {
    problems.add(path, `expected ${schema.typeName}, got ${config.$typeName}`);
    return undefined;
  }
  const message = config as MessageShape<Desc>;
  checkFields(reflect(schema, message), supported, path, problems);
  return message;
}

function checkFields(msg: ReflectMessage, supported: SupportedFilterFields, path: string, problems: Problems): void {
  const typeName = msg.desc.typeName;
  // Durations have no sub-field a proxy could ignore; their value is checked where it is read.
  if (typeName.startsWith('google.protobuf.')) return;
  const fields = supported[typeName] ?? COMMON_SUPPORTED_FIELDS[typeName];
  if (!fields) {
    problems.add(path, `${typeName} ${NOT_IMPLEMENTED}`);
    return;
  }
  // Fields from a newer proto than the proxy's: their meaning is unknown, so is the config's.
  for (const u of msg.getUnknown() ?? []) problems.add(joinPath(path, `<field ${u.no}>`), `field number ${u.no} of ${typeName} is unknown to this proxy`);
  for (const field of msg.fields) {
    if (!msg.isSet(field)) continue;
    const fieldPath = joinPath(path, field.name);
    if (!fields.has(field.name)) {
      problems.add(fieldPath, NOT_IMPLEMENTED);
      continue;
    }
    if (field.fieldKind === 'message') checkFields(msg.get(field), supported, fieldPath, problems);
    else if (field.fieldKind === 'list' && field.listKind === 'message') {
      let i = 0;
      for (const item of msg.get(field)) checkFields(item as ReflectMessage, supported, `${fieldPath}[${i++}]`, problems);
    }
  }
}

/**
 * The policy's direction. An unset or unknown value is a problem; the 'ingress' returned then is
 * never used, since a config with problems is not compiled.
 */
export function compileDirection(p: Problems, path: string, direction: envoy.Direction): 'ingress' | 'egress' {
  if (direction === envoy.Direction.EGRESS) return 'egress';
  if (direction !== envoy.Direction.INGRESS) p.add(path, 'must be INGRESS or EGRESS');
  return 'ingress';
}

/** The upstream cluster's name; empty (with a problem saying it must name `what`) when unset. */
export function compileUpstreamCluster(p: Problems, path: string, upstream: envoy.Upstream | undefined, what: string): string {
  const cluster = upstream?.cluster ?? '';
  if (cluster === '') p.add(joinPath(path, 'cluster'), `must name ${what}`);
  return cluster;
}

/** `path`: the deny_rules field's. */
export function compileDenyRules(p: Problems, path: string, denyRules: readonly envoy.DenyRule[]): PeerMatch[] {
  return denyRules.map((d, i) => compilePeerMatch(p, `${path}[${i}]`, d.name, d.remotes, d.ports));
}

/**
 * The policy's rules (`path`: the rules field's): each one's peer match (names unique within the policy) with what
 * `compileRest` builds from the protocol's own fields (compiled first, so problems keep the order
 * of the fields in the rule).
 */
export function compilePeerRules<R extends { name: string; remotes?: envoy.Remotes | undefined; ports?: envoy.PortRange | undefined }, T>(
  p: Problems,
  path: string,
  rules: readonly R[],
  compileRest: (rule: R, path: string) => T,
): Array<PeerMatch & T> {
  const names = new Set<string>();
  return rules.map((r, i) => {
    const rulePath = `${path}[${i}]`;
    if (names.has(r.name)) p.add(joinPath(rulePath, 'name'), `duplicate rule name "${r.name}"`);
    names.add(r.name);
    const rest = compileRest(r, rulePath);
    return { ...compilePeerMatch(p, rulePath, r.name, r.remotes, r.ports), ...rest };
  });
}

function compilePeerMatch(p: Problems, path: string, name: string, remotes: envoy.Remotes | undefined, ports: envoy.PortRange | undefined): PeerMatch {
  if (name === '') p.add(joinPath(path, 'name'), 'must not be empty (flow records name the deciding rule)');
  // No remotes would mean "no peer"; a missing message is more likely a broken config than that.
  if (!remotes) p.add(joinPath(path, 'remotes'), 'is required');
  return {
    name,
    anyRemote: remotes?.any ?? false,
    identities: new Set(remotes?.any ? [] : (remotes?.identities ?? [])),
    ports: compilePortRange(p, joinPath(path, 'ports'), ports),
  };
}

export function compilePortRange(p: Problems, path: string, r: envoy.PortRange | undefined): FilterPortRange | undefined {
  if (!r) return undefined;
  if (r.start < 1 || r.start > 65_535) p.add(joinPath(path, 'start'), 'must be a port (1-65535)');
  if (r.end < 1 || r.end > 65_535) p.add(joinPath(path, 'end'), 'must be a port (1-65535)');
  if (r.start > r.end) p.add(path, `start ${r.start} is after end ${r.end}`);
  return { start: r.start, end: r.end };
}
