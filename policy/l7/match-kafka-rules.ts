// rules.kafka evaluation as Cilium's proxylib kafkalib Rule.Matches does it (cilium.md §3.2).

import type { KafkaRule } from '../model.js';
import { KAFKA_ROLE_API_KEYS, KAFKA_TOPIC_API_KEYS, kafkaApiKeyFromName } from './kafka-api-keys.js';

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
}

export interface KafkaRulesMatch {
  allowed: boolean;
  /**
   * Allowed: the rules that together allowed the request, in rule order. Denied: the
   * topic-scoped rules that covered some, but not all, of its topics.
   */
  matchedRuleIndexes: number[];
  /** Topics no applicable rule covered; empty when allowed and for `'all'` requests. */
  deniedTopics: string[];
}

export function matchKafkaRules(rules: readonly KafkaRule[], req: KafkaRequestFacts): KafkaRulesMatch {
  if (rules.length === 0) return { allowed: true, matchedRuleIndexes: [], deniedTopics: [] };
  const carriesTopics = KAFKA_TOPIC_API_KEYS.has(req.apiKey);
  // Cilium removes each topic a rule covers from the request's remaining set and allows only
  // once the set is empty: every topic of a multi-topic request needs some rule, and a request
  // with no topic to remove (null Metadata array, unparsed body) never satisfies a topic rule.
  const remaining = new Set(req.topics === 'all' ? [] : req.topics);
  const covering: number[] = [];
  for (const [index, rule] of rules.entries()) {
    if (!ruleApplies(rule, req)) continue;
    if (!rule.topic || !carriesTopics) return { allowed: true, matchedRuleIndexes: [index], deniedTopics: [] };
    if (remaining.delete(rule.topic)) {
      covering.push(index);
      if (remaining.size === 0) return { allowed: true, matchedRuleIndexes: covering, deniedTopics: [] };
    }
  }
  return { allowed: false, matchedRuleIndexes: covering, deniedTopics: [...remaining] };
}

function ruleApplies(rule: KafkaRule, req: KafkaRequestFacts): boolean {
  return (
    allowsApiKey(rule, req.apiKey) &&
    (rule.apiVersion === undefined || rule.apiVersion === req.apiVersion) &&
    (!rule.clientID || rule.clientID === req.clientID)
  );
}

function allowsApiKey(rule: KafkaRule, apiKey: number): boolean {
  if (rule.role) return KAFKA_ROLE_API_KEYS[rule.role].has(apiKey);
  // An unknown name (the loader rejects those) allows no key rather than every key.
  if (rule.apiKey) return kafkaApiKeyFromName(rule.apiKey) === apiKey;
  return true;
}
