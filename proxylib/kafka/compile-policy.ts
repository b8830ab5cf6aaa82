// The compiler of meshd.filters.kafka.v1.KafkaPolicy, the Kafka filter's typed config: checks every
// field (problems at their proto paths, so the xDS client NACKs what the filter cannot run) and
// builds what the connection runtime needs — peer rules with identity sets and port ranges, and the
// rules' requests as policy's KafkaRuleSpec (one matcher for the proxy and `meshd policy trace`).
//
// The xDS server validates the same config before sending it (xds/resources/kafka-filter.ts), but
// the proxy also runs configs from any ADS server, so it checks again and refuses rather than runs
// something it would read differently.
import type { Message } from '@bufbuild/protobuf';
import type { KafkaRuleSpec } from '../../policy/index.js';
import { isKafkaTopicName } from '../../policy/index.js';
import { envoy } from '../../xds/index.js';
import { TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS, type NetworkFilterContext, type Problems } from '../config/index.js';
import { checkedFilterConfig, COMMON_POLICY_FIELDS, compileDenyRules, compileDirection, compilePeerRules, compileUpstreamCluster, joinPath as join, type PeerMatch, type SupportedFilterFields } from '../meshd-filters/index.js';
import { DEFAULT_MAX_FRAME_BYTES } from './protocol/index.js';

export const KAFKA_POLICY_TYPE = 'meshd.filters.kafka.v1.KafkaPolicy';

/** The smallest max_frame_bytes accepted: a request header with a short client id must fit. */
export const MIN_MAX_FRAME_BYTES = 64;
/** Kafka's frame size is an int32. */
export const MAX_MAX_FRAME_BYTES = 2_147_483_647;

/** A peer the rule is for (identities) on the destination ports it covers. */
export type KafkaPeerMatch = PeerMatch;

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

// The fields of the config and what the proxy does with each (the common/v1 messages' and
// COMMON_POLICY_FIELDS are meshd-filters'); every set field not listed is a problem.
const KAFKA = 'meshd.filters.kafka.v1.';
const SUPPORTED: SupportedFilterFields = {
  [`${KAFKA}KafkaPolicy`]: new Set([...COMMON_POLICY_FIELDS, 'max_frame_bytes']),
  [`${KAFKA}KafkaPeerRule`]: new Set(['name', 'remotes', 'ports', 'l3l4_only', 'visibility_only', 'requests']),
  [`${KAFKA}KafkaRequestRule`]: new Set(['api_keys', 'api_version', 'client_id', 'topic', 'role', 'topic_prefix', 'group_id']),
};

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
  const policy = checkedFilterConfig(config, envoy.KafkaPolicySchema, SUPPORTED, base, p);
  if (!policy) return undefined;

  if (policy.statPrefix === '') p.add(at('stat_prefix'), 'must not be empty');
  const direction = compileDirection(p, at('direction'), policy.direction);
  const upstreamCluster = compileUpstreamCluster(p, at('upstream'), policy.upstream, 'the cluster allowed traffic goes through');

  let maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  const maxFrame = policy.maxFrameBytes;
  if (maxFrame !== 0) {
    if (maxFrame < MIN_MAX_FRAME_BYTES || maxFrame > MAX_MAX_FRAME_BYTES) p.add(at('max_frame_bytes'), `must be 0 (default ${DEFAULT_MAX_FRAME_BYTES}) or between ${MIN_MAX_FRAME_BYTES} and ${MAX_MAX_FRAME_BYTES}`);
    else maxFrameBytes = maxFrame;
  }

  const denyRules = compileDenyRules(p, at('deny_rules'), policy.denyRules);
  const rules: KafkaPeerRuleConfig[] = compilePeerRules(p, at('rules'), policy.rules, (r, path) => {
    const specs = r.requests.map((q, j) => ruleSpec(p, join(path, `requests[${j}]`), q));
    return {
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
