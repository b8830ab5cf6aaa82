// rules.kafka evaluation: Cilium's proxylib kafkalib Rule.Matches (cilium.md §3.2), extended to
// meshd's `topicPrefix` and `groupID`. One implementation for `meshd policy trace` and the proxy's
// Kafka filter, which builds its specs from the xDS config instead of policy files.

import type { KafkaRole, KafkaRule } from '../model.js';
import { KAFKA_GROUP_API_KEYS, KAFKA_ROLE_API_KEYS, KAFKA_TOPIC_API_KEYS, kafkaApiKeyFromName } from './kafka-api-keys.js';

const METADATA_API_KEY = 3;

/** One Kafka rule as the matcher needs it: every set field must match. */
export interface KafkaRuleSpec {
  /** The API keys the rule allows; undefined or empty = any key (as the proto's empty `api_keys`). */
  apiKeys?: ReadonlySet<number>;
  /** Cilium's role: the keys of KAFKA_ROLE_API_KEYS. With `apiKeys` too, a key must be in both. */
  role?: KafkaRole;
  apiVersion?: number;
  /** Exact client id; undefined or empty = any. */
  clientID?: string;
  /** Exact topic; constrains only topic keys (KAFKA_TOPIC_API_KEYS). Empty = none. */
  topic?: string;
  /** Topics starting with this; constrains only topic keys. Empty = none. */
  topicPrefix?: string;
  /** Exact group id; constrains only group keys (KAFKA_GROUP_API_KEYS). Empty = none. */
  groupID?: string;
}

export interface KafkaRequestFacts {
  apiKey: number;
  apiVersion: number;
  /**
   * The request header's client id. Cilium's parser treats it as absent for apiVersion 0
   * requests (so clientID rules never match them); whoever extracts the facts decides whether
   * to reproduce that.
   */
  clientID?: string;
  /** Topics named in the request body; `'all'` is a Metadata request with a null topic array. */
  topics: string[] | 'all';
  /** Consumer/share group ids named in the request (FindCoordinator GROUP keys included). */
  groups?: string[];
}

export interface KafkaRulesMatch {
  allowed: boolean;
  /**
   * Allowed: the rules that together allowed the request, in rule order. Denied: the rules that
   * covered some, but not all, of what the request names.
   */
  matchedRuleIndexes: number[];
  /**
   * Topics left uncovered by the rules that allow the request's group(s), in request order; empty
   * when allowed and for requests whose topics are unknown (`'all'`, none parsed).
   */
  deniedTopics: string[];
  /** Groups no applicable rule allows at all, in request order; empty when allowed. */
  deniedGroups: string[];
}

export function kafkaRuleSpecOf(rule: KafkaRule): KafkaRuleSpec {
  const spec: KafkaRuleSpec = {};
  if (rule.role) spec.role = rule.role;
  if (rule.apiKey) {
    // The loader rejects unknown names; one that slipped through allows no key rather than every key.
    const key = kafkaApiKeyFromName(rule.apiKey);
    spec.apiKeys = new Set(key === undefined ? [-1] : [key]);
  }
  if (rule.apiVersion !== undefined) spec.apiVersion = rule.apiVersion;
  if (rule.clientID) spec.clientID = rule.clientID;
  if (rule.topic) spec.topic = rule.topic;
  if (rule.topicPrefix) spec.topicPrefix = rule.topicPrefix;
  if (rule.groupID) spec.groupID = rule.groupID;
  return spec;
}

export function matchKafkaRules(rules: readonly KafkaRule[], req: KafkaRequestFacts): KafkaRulesMatch {
  return matchKafkaRuleSpecs(rules.map(kafkaRuleSpecOf), req);
}

/**
 * Cilium's semantics: a request is allowed when every topic it names is covered by an applicable
 * rule (apiKey/role, apiVersion and clientID match); a rule without a topic covers every topic,
 * and a topic-key request whose topics are unknown (`'all'`, none) is covered only by such a rule.
 * Groups work the same way on group keys. A rule's fields are ANDed, so a rule with both a topic
 * and a groupID covers that topic for that group only: the request is allowed when every (group,
 * topic) pair it names is covered by one applicable rule. Rules for other groups cannot lend their
 * topics (`{topic: a, groupID: g1}` and `{topic: b, groupID: g2}` do not allow g1 to commit b).
 */
export function matchKafkaRuleSpecs(rules: readonly KafkaRuleSpec[], req: KafkaRequestFacts): KafkaRulesMatch {
  if (rules.length === 0) return { allowed: true, matchedRuleIndexes: [], deniedTopics: [], deniedGroups: [] };
  // A Metadata request with an empty topic list (v1+; an empty v0 list means all topics, and the
  // request's facts say 'all' then) asks for brokers and the controller only, and reveals no topic:
  // librdkafka opens connections with one. It needs no topic permission. Other keys keep Cilium's
  // rule: a Fetch naming no topic may still read an incremental fetch session's partitions.
  const namesNoTopic = req.apiKey === METADATA_API_KEY && req.topics !== 'all' && req.topics.length === 0;
  const carriesTopics = KAFKA_TOPIC_API_KEYS.has(req.apiKey) && !namesNoTopic;
  const carriesGroups = KAFKA_GROUP_API_KEYS.has(req.apiKey);
  const applicable: number[] = [];
  for (const [index, rule] of rules.entries()) if (ruleApplies(rule, req)) applicable.push(index);

  // A rule covers a group when the key carries no group or it has no groupID. Split the applicable
  // rules by that: the pairs of group g are covered by the rules for any group plus those for g.
  // Groups without rules of their own share one topic walk, so the work is (topics × rules) per
  // group that some rule names, never (topics × groups) pairs.
  const forAnyGroup: number[] = [];
  const forGroup = new Map<string, number[]>();
  for (const index of applicable) {
    const groupID = rules[index]!.groupID;
    if (!carriesGroups || !groupID) forAnyGroup.push(index);
    else {
      const own = forGroup.get(groupID);
      if (own) own.push(index);
      else forGroup.set(groupID, [index]);
    }
  }
  const topicsOf = (indexes: number[]) => coverTopics(rules, indexes, req.topics, carriesTopics);

  const groups = carriesGroups ? unique(req.groups ?? []) : [];
  // A group key naming no group (FindCoordinator for a transaction) is only covered by rules
  // without a groupID, as a topic key naming no topic is by rules without a topic.
  const results: Array<{ group: string | undefined; cover: TopicCover; ruleCount: number }> = [];
  let anyGroupCover: TopicCover | undefined;
  const coverForAnyGroup = () => (anyGroupCover ??= topicsOf(forAnyGroup));
  if (groups.length === 0) results.push({ group: undefined, cover: coverForAnyGroup(), ruleCount: forAnyGroup.length });
  for (const group of groups) {
    const own = forGroup.get(group);
    if (!own) {
      results.push({ group, cover: coverForAnyGroup(), ruleCount: forAnyGroup.length });
      continue;
    }
    const indexes = mergeSorted(forAnyGroup, own);
    results.push({ group, cover: topicsOf(indexes), ruleCount: indexes.length });
  }

  const matched = new Set<number>();
  for (const r of results) for (const i of r.cover.covering) matched.add(i);
  const matchedRuleIndexes = [...matched].sort((a, b) => a - b);
  if (results.every((r) => r.cover.allowed)) return { allowed: true, matchedRuleIndexes, deniedTopics: [], deniedGroups: [] };

  const deniedGroups: string[] = [];
  const uncovered = new Set<string>();
  for (const r of results) {
    if (r.cover.allowed) continue;
    // No rule at all for this group: the group is what is denied, not its topics.
    if (r.ruleCount === 0 && r.group !== undefined) deniedGroups.push(r.group);
    else for (const t of r.cover.uncovered) uncovered.add(t);
  }
  const deniedTopics = req.topics === 'all' ? [] : unique(req.topics).filter((t) => uncovered.has(t));
  return { allowed: false, matchedRuleIndexes, deniedTopics, deniedGroups };
}

interface TopicCover {
  allowed: boolean;
  /** Allowed: the rules that together covered every topic. Denied: the rules that covered some. */
  covering: number[];
  uncovered: string[];
}

/**
 * Cilium's topic walk over `indexes` (applicable rules, in rule order): the first rule without a
 * topic constraint allows alone; otherwise each topic-scoped rule removes the topics it covers and
 * the request is allowed once none remain. A request with no topic to remove (a null Metadata
 * array, an unparsed body) never satisfies a topic-scoped rule.
 */
function coverTopics(rules: readonly KafkaRuleSpec[], indexes: readonly number[], topics: string[] | 'all', carriesTopics: boolean): TopicCover {
  const remaining = new Set(topics === 'all' ? [] : topics);
  const covering: number[] = [];
  for (const index of indexes) {
    const rule = rules[index]!;
    if (!carriesTopics || (!rule.topic && !rule.topicPrefix)) return { allowed: true, covering: [index], uncovered: [] };
    let removed = false;
    if (rule.topic) {
      // Both set (the loader refuses that; a hand-written xDS config might not): both must match.
      removed = (!rule.topicPrefix || rule.topic.startsWith(rule.topicPrefix)) && remaining.delete(rule.topic);
    } else {
      for (const t of remaining) {
        if (t.startsWith(rule.topicPrefix!)) {
          remaining.delete(t);
          removed = true;
        }
      }
    }
    if (removed) {
      covering.push(index);
      if (remaining.size === 0) return { allowed: true, covering, uncovered: [] };
    }
  }
  return { allowed: false, covering, uncovered: [...remaining] };
}

function ruleApplies(rule: KafkaRuleSpec, req: KafkaRequestFacts): boolean {
  return (
    allowsApiKey(rule, req.apiKey) &&
    (rule.apiVersion === undefined || rule.apiVersion === req.apiVersion) &&
    (!rule.clientID || rule.clientID === req.clientID)
  );
}

function allowsApiKey(rule: KafkaRuleSpec, apiKey: number): boolean {
  if (rule.role && !KAFKA_ROLE_API_KEYS[rule.role].has(apiKey)) return false;
  if (rule.apiKeys && rule.apiKeys.size > 0 && !rule.apiKeys.has(apiKey)) return false;
  return true;
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  return [...a, ...b].sort((x, y) => x - y);
}
