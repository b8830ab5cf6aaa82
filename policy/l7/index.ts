export type { DnsRulesMatch } from './match-dns-rules.js';
export { matchDnsRules } from './match-dns-rules.js';
export type { HttpRequestFacts, HttpRulesMatch } from './match-http-rule.js';
export { matchHttpRule, matchHttpRules } from './match-http-rule.js';
export type { KafkaApiKeyName } from './kafka-api-keys.js';
export {
  KAFKA_API_KEYS,
  KAFKA_API_NAMES,
  KAFKA_GROUP_API_KEYS,
  KAFKA_ROLE_API_KEYS,
  KAFKA_TOPIC_API_KEYS,
  kafkaApiKeyFromName,
  kafkaApiKeyName,
  kafkaApiKeyNames,
  isKafkaTopicName,
  parseKafkaApiKeyArg,
} from './kafka-api-keys.js';
export type { KafkaRequestFacts, KafkaRuleSpec, KafkaRulesMatch } from './match-kafka-rules.js';
export { kafkaRuleSpecOf, matchKafkaRuleSpecs, matchKafkaRules } from './match-kafka-rules.js';
