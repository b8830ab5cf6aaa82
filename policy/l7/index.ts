export type { DnsRulesMatch } from './match-dns-rules.js';
export { matchDnsRules } from './match-dns-rules.js';
export type { HttpRequestFacts, HttpRulesMatch } from './match-http-rule.js';
export { matchHttpRule, matchHttpRules } from './match-http-rule.js';
export type { KafkaApiKeyName } from './kafka-api-keys.js';
export {
  KAFKA_API_KEYS,
  KAFKA_ROLE_API_KEYS,
  KAFKA_TOPIC_API_KEYS,
  kafkaApiKeyFromName,
  kafkaApiKeyName,
  parseKafkaApiKeyArg,
} from './kafka-api-keys.js';
export type { KafkaRequestFacts, KafkaRulesMatch } from './match-kafka-rules.js';
export { matchKafkaRules } from './match-kafka-rules.js';
