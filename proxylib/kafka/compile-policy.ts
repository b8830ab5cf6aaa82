// The compiler of meshd.filters.kafka.v1.KafkaPolicy, the Kafka filter's typed config: checks every
// field (problems at their proto paths, so the xDS client NACKs what the filter cannot run) and
// builds what the connection runtime needs — peer rules with identity sets and port ranges, and the
// rules' requests as policy's KafkaRuleSpec (one matcher for the proxy and `meshd policy trace`).
//
// The xDS server validates the same config before sending it (xds/resources/kafka-filter.ts), but
// the proxy also runs configs from any ADS server, so it checks again and refuses rather than runs
// something it would read differently.
import type { DescMessage, Message } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import type { KafkaRuleSpec } from '../../policy/index.js';
import { isKafkaTopicName } from '../../policy/index.js';
import { envoy } from '../../xds/index.js';
import { NOT_IMPLEMENTED, TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS, type NetworkFilterContext, type Problems } from '../config/index.js';
import { DEFAULT_MAX_FRAME_BYTES } from './protocol/index.js';

export const KAFKA_POLICY_TYPE = 'meshd.filters.kafka.v1.KafkaPolicy';

/** The smallest max_frame_bytes accepted: a request header with a short client id must fit. */
export const MIN_MAX_FRAME_BYTES = 64;
/** Kafka's frame size is an int32. */
export const MAX_MAX_FRAME_BYTES = 2_147_483_647;

/** A peer the rule is for (identities) on the destination ports it covers. */
export interface KafkaPeerMatch {
  /** The rule's origin (policy and rule path), for flow records. */
  name: string;
  anyRemote: boolean;
  identities: ReadonlySet<number>;
  /** Inclusive; undefined = every port the listener receives. */
  ports: { start: number; end: number } | undefined;
}

export interface KafkaPeerRuleConfig extends KafkaPeerMatch {
  /**
   * l3l4_only, visibility_only, or no requests: every request is allowed (decision step 3 of the
   * proto; a visibility-only rule observes and never denies).
   */
  allowsEveryRequest: boolean;
  /** The rule's requests (ORed), for matchKafkaRuleSpecs. */
  specs: KafkaRuleSpec[];
}

export interface KafkaPolicyConfig {
  statPrefix: string;
  /** `namespace/name` of the endpoint whose policy this is. */
  endpoint: string;
  /** INGRESS: the peer is the connection's source; EGRESS: its original destination. */
  direction: 'ingress' | 'egress';
  defaultDeny: boolean;
  denyRules: KafkaPeerMatch[];
  rules: KafkaPeerRuleConfig[];
  /** The ORIGINAL_DST cluster allowed traffic goes through. */
  upstreamCluster: string;
  /** Request and response frames above this close the connection (Kafka's socket.request.max.bytes). */
  maxFrameBytes: number;
  /** As tcp_proxy's default idle_timeout (the config has no field for it). */
  idleTimeoutMs: number;
}

// The fields of the config and what the proxy does with each. Every set field not listed is a
// problem, so a field added to the proto later is refused until the filter implements it (the same
// rule proxylib/config/supported-fields.ts applies to Envoy's types, which that table lists).
const KAFKA = 'meshd.filters.kafka.v1.';
const COMMON = 'meshd.filters.common.v1.';
const SUPPORTED: Readonly<Record<string, ReadonlySet<string>>> = {
  [`${KAFKA}KafkaPolicy`]: new Set([
    'stat_prefix',
    'endpoint',
    'direction',
    'default_deny',
    'deny_rules',
    'rules',
    'upstream',
    // A TCP listener picks the policy by its filter chain match; these two are for UDP listeners
    // (DNS) and informational here.
    'endpoint_ips',
    'destination_ports',
    'max_frame_bytes',
  ]),
  [`${KAFKA}KafkaPeerRule`]: new Set(['name', 'remotes', 'ports', 'l3l4_only', 'visibility_only', 'requests']),
  [`${KAFKA}KafkaRequestRule`]: new Set(['api_keys', 'api_version', 'client_id', 'topic', 'role', 'topic_prefix', 'group_id']),
  [`${COMMON}DenyRule`]: new Set(['name', 'remotes', 'ports']),
  [`${COMMON}Remotes`]: new Set(['any', 'identities']),
  [`${COMMON}PortRange`]: new Set(['start', 'end']),
  [`${COMMON}Upstream`]: new Set(['cluster']),
};

function checkFields(msg: ReflectMessage, path: string, problems: Problems): void {
  const typeName = msg.desc.typeName;
  const fields = SUPPORTED[typeName];
  if (!fields) {
    problems.add(path, `${typeName} ${NOT_IMPLEMENTED}`);
    return;
  }
  // Fields from a newer proto than the proxy's: their meaning is unknown, so is the config's.
  for (const u of msg.getUnknown() ?? []) problems.add(join(path, `<field ${u.no}>`), `field number ${u.no} of ${typeName} is unknown to this proxy`);
  for (const field of msg.fields) {
    if (!msg.isSet(field)) continue;
    const fieldPath = join(path, field.name);
    if (!fields.has(field.name)) {
      problems.add(fieldPath, NOT_IMPLEMENTED);
      continue;
    }
    if (field.fieldKind === 'message') checkFields(msg.get(field), fieldPath, problems);
    else if (field.fieldKind === 'list' && field.listKind === 'message') {
      let i = 0;
      for (const item of msg.get(field)) checkFields(item as ReflectMessage, `${fieldPath}[${i++}]`, problems);
    }
  }
}

function join(base: string, rel: string): string {
  return base === '' ? rel : `${base}.${rel}`;
}

const INT16_MAX = 32_767;

/**
 * Compiles one KafkaPolicy. Problems go into ctx.problems with paths below ctx.path; returns
 * undefined when there is any.
 */
export function compileKafkaPolicyConfig(config: Message, ctx: Pick<NetworkFilterContext, 'path' | 'problems'>): KafkaPolicyConfig | undefined {
  const p = ctx.problems;
  const before = p.items.length;
  const base = ctx.path;
  const at = (rel: string): string => join(base, rel);
  if (config.$typeName !== KAFKA_POLICY_TYPE) {
    p.add(base, `expected ${KAFKA_POLICY_TYPE}, got ${config.$typeName}`);
    return undefined;
  }
  const policy = config as envoy.KafkaPolicy;
  checkFields(reflect(envoy.KafkaPolicySchema as DescMessage, policy), base, p);

  if (policy.statPrefix === '') p.add(at('stat_prefix'), 'must not be empty');
  let direction: 'ingress' | 'egress' = 'ingress';
  if (policy.direction === envoy.Direction.INGRESS) direction = 'ingress';
  else if (policy.direction === envoy.Direction.EGRESS) direction = 'egress';
  else p.add(at('direction'), 'must be INGRESS or EGRESS');
  const upstreamCluster = policy.upstream?.cluster ?? '';
  if (upstreamCluster === '') p.add(at('upstream.cluster'), 'must name the cluster allowed traffic goes through');

  let maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  const maxFrame = policy.maxFrameBytes;
  if (maxFrame !== 0) {
    if (maxFrame < MIN_MAX_FRAME_BYTES || maxFrame > MAX_MAX_FRAME_BYTES) p.add(at('max_frame_bytes'), `must be 0 (default ${DEFAULT_MAX_FRAME_BYTES}) or between ${MIN_MAX_FRAME_BYTES} and ${MAX_MAX_FRAME_BYTES}`);
    else maxFrameBytes = maxFrame;
  }

  const denyRules = policy.denyRules.map((d, i) => peerMatch(p, at(`deny_rules[${i}]`), d.name, d.remotes, d.ports));
  const names = new Set<string>();
  const rules = policy.rules.map((r, i): KafkaPeerRuleConfig => {
    const path = at(`rules[${i}]`);
    if (names.has(r.name)) p.add(join(path, 'name'), `duplicate rule name "${r.name}"`);
    names.add(r.name);
    const specs = r.requests.map((q, j) => ruleSpec(p, join(path, `requests[${j}]`), q));
    return {
      ...peerMatch(p, path, r.name, r.remotes, r.ports),
      allowsEveryRequest: r.l3l4Only || r.visibilityOnly || r.requests.length === 0,
      specs,
    };
  });

  if (p.items.length > before) return undefined;
  return {
    statPrefix: policy.statPrefix,
    endpoint: policy.endpoint,
    direction,
    defaultDeny: policy.defaultDeny,
    denyRules,
    rules,
    upstreamCluster,
    maxFrameBytes,
    idleTimeoutMs: TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS,
  };
}

function peerMatch(p: Problems, path: string, name: string, remotes: envoy.Remotes | undefined, ports: envoy.PortRange | undefined): KafkaPeerMatch {
  if (name === '') p.add(join(path, 'name'), 'must not be empty (flow records name the deciding rule)');
  // No remotes would mean "no peer"; a missing message is more likely a broken config than that.
  if (!remotes) p.add(join(path, 'remotes'), 'is required');
  return {
    name,
    anyRemote: remotes?.any ?? false,
    identities: new Set(remotes?.any ? [] : (remotes?.identities ?? [])),
    ports: portRange(p, join(path, 'ports'), ports),
  };
}

function portRange(p: Problems, path: string, r: envoy.PortRange | undefined): { start: number; end: number } | undefined {
  if (!r) return undefined;
  if (r.start < 1 || r.start > 65_535) p.add(join(path, 'start'), 'must be a port (1-65535)');
  if (r.end < 1 || r.end > 65_535) p.add(join(path, 'end'), 'must be a port (1-65535)');
  if (r.start > r.end) p.add(path, `start ${r.start} is after end ${r.end}`);
  return { start: r.start, end: r.end };
}

function ruleSpec(p: Problems, path: string, q: envoy.KafkaRequestRule): KafkaRuleSpec {
  const spec: KafkaRuleSpec = {};
  q.apiKeys.forEach((k, i) => {
    if (k > INT16_MAX) p.add(join(path, `api_keys[${i}]`), `API key ${k} is not an int16`);
  });
  if (q.apiKeys.length > 0) spec.apiKeys = new Set(q.apiKeys);
  if (q.role !== '') {
    if (q.role !== 'produce' && q.role !== 'consume') p.add(join(path, 'role'), `unknown role "${q.role}" (produce or consume)`);
    else spec.role = q.role;
    if (q.apiKeys.length > 0) p.add(path, 'role and api_keys are exclusive');
  }
  if (q.apiVersion !== undefined) {
    if (q.apiVersion > INT16_MAX) p.add(join(path, 'api_version'), `API version ${q.apiVersion} is not an int16`);
    spec.apiVersion = q.apiVersion;
  }
  if (q.clientId !== '') spec.clientID = q.clientId;
  const topicPrefix = q.topicPrefix;
  if (q.topic !== '') spec.topic = q.topic;
  if (topicPrefix !== '') spec.topicPrefix = topicPrefix;
  if (q.topic !== '' && topicPrefix !== '') p.add(path, 'topic and topic_prefix are exclusive');
  // The filter names topic ids it cannot resolve with names outside Kafka's topic characters, so
  // that no rule covers them; a rule holding such a name (or prefix) would let them through.
  if (q.topic !== '' && !isKafkaTopicName(q.topic)) p.add(join(path, 'topic'), `"${q.topic}" is not a Kafka topic name (1–255 of letters, digits, ".", "_", "-")`);
  if (topicPrefix !== '' && !isKafkaTopicName(topicPrefix)) p.add(join(path, 'topic_prefix'), `"${topicPrefix}" is not a Kafka topic prefix (1–255 of letters, digits, ".", "_", "-")`);
  const groupId = q.groupId;
  if (groupId !== '') spec.groupID = groupId;
  return spec;
}
