// Kafka per-API semantics for the proxy: what a request is about (topics, topic ids, groups,
// transactional ids, whether it expects a response), the API's own answer to a denied request for
// every API key and version, and the topic id → name cache that lets ID-only requests be judged by name.

export { requestFacts, opaqueRequestFacts, KAFKA_CONFIG_RESOURCE_TYPE, KAFKA_COORDINATOR_TYPE, type KafkaRequestFacts } from './request-facts.js';
export {
  denyResponse,
  denyResponseBody,
  DEFAULT_DENY_ERRORS,
  DENY_RESPONSE_MAX_ENTRIES,
  type DenyErrors,
  type DenyContext,
  type KafkaDenyCause,
} from './deny-response.js';
export { TopicNameCache, DEFAULT_TOPIC_NAME_CACHE_SIZE, ZERO_TOPIC_ID, type KafkaBrokerAddress } from './topic-name-cache.js';
export { KAFKA_ERROR, KAFKA_AUTHORIZATION_ERRORS, type KafkaErrorName } from './kafka-error.js';
