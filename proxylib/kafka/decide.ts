// The Kafka filter's decisions, in the proto's order (xds/proto/meshd/filters/kafka/v1/kafka.proto),
// for a peer P (its security identity) on destination port N:
//   1. a deny rule covering (P, N) refuses the connection;
//   2. no rule covers (P, N): refused when default_deny, else every request is allowed;
//   3. a covering rule that allows every request (l3l4_only, visibility_only, no requests) allows all;
//   4. otherwise a request is allowed when the requests of all covering rules, taken as one list,
//      allow it (policy's matchKafkaRuleSpecs: Cilium's semantics plus topic prefixes and groups).
// Steps 1–3 depend only on the connection, so they run once per connection (and again when the
// config changes); step 4 runs per request.
import { KAFKA_GROUP_API_KEYS, KAFKA_ROLE_API_KEYS, KAFKA_TOPIC_API_KEYS, matchKafkaRuleSpecs, type KafkaRuleSpec } from '../../policy/index.js';
import { KAFKA_ERROR, type KafkaRequestFacts as KafkaBodyFacts } from './api/index.js';
import type { KafkaPeerMatch, KafkaPolicyConfig } from './compile-policy.js';

export type KafkaConnectionDecision =
  | { kind: 'refuse'; reason: 'kafka_deny_rule' | 'kafka_default_deny'; policy: string | undefined }
  | { kind: 'accept'; requests: KafkaRequestDecider };

function covers(m: KafkaPeerMatch, identity: number, port: number): boolean {
  if (m.ports && (port < m.ports.start || port > m.ports.end)) return false;
  return m.anyRemote || m.identities.has(identity);
}

/** Steps 1–3 for a connection whose peer has `identity` (world when unknown) and destination `port`. */
export function decideConnection(policy: KafkaPolicyConfig, identity: number, port: number): KafkaConnectionDecision {
  const deny = policy.denyRules.find((d) => covers(d, identity, port));
  if (deny) return { kind: 'refuse', reason: 'kafka_deny_rule', policy: deny.name };
  const covering = policy.rules.filter((r) => covers(r, identity, port));
  if (covering.length === 0) {
    if (policy.defaultDeny) return { kind: 'refuse', reason: 'kafka_default_deny', policy: undefined };
    return { kind: 'accept', requests: new KafkaRequestDecider(undefined, []) };
  }
  const allowAll = covering.find((r) => r.allowsEveryRequest);
  if (allowAll) return { kind: 'accept', requests: new KafkaRequestDecider(allowAll.name, []) };
  const specs: Array<{ spec: KafkaRuleSpec; rule: string }> = [];
  for (const rule of covering) for (const spec of rule.specs) specs.push({ spec, rule: rule.name });
  return { kind: 'accept', requests: new KafkaRequestDecider(undefined, specs) };
}

/** What a request carries, as the decider needs it: the header plus the body's facts. */
export interface KafkaRequestSubject {
  apiKey: number;
  apiVersion: number;
  clientId: string | null;
  facts: KafkaBodyFacts;
  /** The body could not be decoded (unknown API key or version): its topics and groups are unknown. */
  opaque: boolean;
}

export type KafkaRequestDecision =
  | { allowed: true; policy: string | undefined }
  | {
      allowed: false;
      policy: string | undefined;
      reason: string;
      /** The error code the deny response leads with (for the flow record). */
      errorCode: number;
      deniedTopics: string[];
      deniedGroups: string[];
      /** Topic ids the proxy could not name, answered UNKNOWN_TOPIC_ID (the client refreshes metadata). */
      unknownTopicIds: string[];
    };

// A topic id the cache cannot name takes part in matching as a name no rule can cover: topic names
// are [a-zA-Z0-9._-] only, so neither `topic` nor `topicPrefix` matches it, while a rule that does
// not constrain topics still allows the request — exactly "unresolved ids deny only when topics decide".
const UNRESOLVED_PREFIX = '<topic-id ';
function unresolvedName(id: string): string {
  return `${UNRESOLVED_PREFIX}${id}>`;
}
function unresolvedId(name: string): string | undefined {
  return name.startsWith(UNRESOLVED_PREFIX) ? name.slice(UNRESOLVED_PREFIX.length, -1) : undefined;
}

export class KafkaRequestDecider {
  /** For opaque requests: only rules that constrain neither topics nor groups may allow them. */
  private opaqueSpecs: Array<{ spec: KafkaRuleSpec; rule: string }> | undefined;

  constructor(
    /** Set: every request is allowed by this rule (undefined name with no specs: no rule covers the peer and default deny is off). */
    private readonly allowAllRule: string | undefined,
    private readonly specs: ReadonlyArray<{ spec: KafkaRuleSpec; rule: string }>,
  ) {}

  get allowsEverything(): boolean {
    return this.specs.length === 0;
  }

  decide(req: KafkaRequestSubject): KafkaRequestDecision {
    if (this.specs.length === 0) return { allowed: true, policy: this.allowAllRule };
    let specs = this.specs;
    if (req.opaque) {
      // Never passed blind: a rule that needs facts the proxy cannot see does not allow the request.
      specs = this.opaqueSpecs ??= this.specs.filter(({ spec }) => !spec.topic && !spec.topicPrefix && !spec.groupID);
      if (specs.length === 0) return this.denied(req, 'kafka_denied_unknown_request', [], [], []);
    }
    const unresolved = req.facts.unresolvedTopicIds;
    const topics = req.facts.topics === 'all' || unresolved.length === 0 ? req.facts.topics : [...req.facts.topics, ...unresolved.map(unresolvedName)];
    const match = matchKafkaRuleSpecs(
      specs.map((s) => s.spec),
      { apiKey: req.apiKey, apiVersion: req.apiVersion, ...(req.clientId !== null ? { clientID: req.clientId } : {}), topics, groups: req.facts.groups },
    );
    if (match.allowed) return { allowed: true, policy: ruleNames(specs, match.matchedRuleIndexes) };
    const deniedTopics: string[] = [];
    const unknownTopicIds: string[] = [];
    for (const t of match.deniedTopics) {
      const id = unresolvedId(t);
      if (id === undefined) deniedTopics.push(t);
      else unknownTopicIds.push(id);
    }
    // No rule applies to the header at all: that is the reason, whatever the body names.
    let reason = req.opaque ? 'kafka_denied_unknown_request' : whyNoRuleApplies(specs, req);
    if (reason === 'kafka_denied_request') {
      if (match.deniedGroups.length > 0) reason = 'kafka_denied_group';
      else if (deniedTopics.length > 0 || req.facts.topics === 'all') reason = 'kafka_denied_topic';
      else if (unknownTopicIds.length > 0) reason = 'kafka_unknown_topic_id';
    }
    return this.denied(req, reason, deniedTopics, match.deniedGroups, unknownTopicIds);
  }

  private denied(req: KafkaRequestSubject, reason: string, deniedTopics: string[], deniedGroups: string[], unknownTopicIds: string[]): KafkaRequestDecision {
    let errorCode: number;
    if (deniedGroups.length > 0) errorCode = KAFKA_ERROR.GROUP_AUTHORIZATION_FAILED;
    else if (deniedTopics.length === 0 && unknownTopicIds.length > 0) errorCode = KAFKA_ERROR.UNKNOWN_TOPIC_ID;
    else if (KAFKA_TOPIC_API_KEYS.has(req.apiKey)) errorCode = KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED;
    else if (KAFKA_GROUP_API_KEYS.has(req.apiKey)) errorCode = KAFKA_ERROR.GROUP_AUTHORIZATION_FAILED;
    else errorCode = KAFKA_ERROR.CLUSTER_AUTHORIZATION_FAILED;
    return { allowed: false, policy: undefined, reason, errorCode, deniedTopics, deniedGroups, unknownTopicIds };
  }
}

/** The deciding rules' names, in rule order, once each. */
function ruleNames(specs: ReadonlyArray<{ rule: string }>, indexes: readonly number[]): string | undefined {
  const names: string[] = [];
  for (const i of indexes) {
    const name = specs[i]?.rule;
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names.length > 0 ? names.join(',') : undefined;
}

/** Which of the header's facts no rule accepts, for operators reading flow records. */
function whyNoRuleApplies(specs: ReadonlyArray<{ spec: KafkaRuleSpec }>, req: KafkaRequestSubject): string {
  // Apply the same key test as the matcher, one field at a time.
  const byKey = specs.filter(({ spec }) => specAllowsKey(spec, req.apiKey));
  if (byKey.length === 0) return 'kafka_denied_api_key';
  const byVersion = byKey.filter(({ spec }) => spec.apiVersion === undefined || spec.apiVersion === req.apiVersion);
  if (byVersion.length === 0) return 'kafka_denied_api_version';
  const byClient = byVersion.filter(({ spec }) => !spec.clientID || spec.clientID === req.clientId);
  if (byClient.length === 0) return 'kafka_denied_client_id';
  return 'kafka_denied_request';
}

function specAllowsKey(spec: KafkaRuleSpec, apiKey: number): boolean {
  // Roles are checked by the matcher; here a role counts as "some key", so a role mismatch reads as
  // an API key denial, which is what it is.
  if (spec.apiKeys && spec.apiKeys.size > 0 && !spec.apiKeys.has(apiKey)) return false;
  if (spec.role) return KAFKA_ROLE_API_KEYS[spec.role].has(apiKey);
  return true;
}
