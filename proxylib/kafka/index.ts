// Public entry of proxylib/kafka, the built-in proxy's Kafka filter (issue 6): the codec
// (protocol/, Apache Kafka's message schemas for every API key and version), per-API semantics
// (api/: request facts, deny responses, the topic-id cache) and the filter itself — the compiler of
// meshd.filters.kafka.v1.KafkaPolicy, the per-connection runtime, and its registration with the
// listener compiler, which importing this module performs (proxylib/index.ts imports it).
import './register.js';

export * from './protocol/index.js';
export * from './api/index.js';

export { KAFKA_POLICY_TYPE, MIN_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES, compileKafkaPolicyConfig } from './compile-policy.js';
export type { KafkaPolicyConfig, KafkaPeerMatch, KafkaPeerRuleConfig } from './compile-policy.js';
export { KafkaFilter, compileKafkaFilter } from './kafka-filter.js';
export { decideConnection, KafkaRequestDecider } from './decide.js';
export type { KafkaConnectionDecision, KafkaRequestDecision, KafkaRequestSubject } from './decide.js';
export { KafkaResponseFramer, RESPONSE_PREFIX_BYTES } from './response-framer.js';
export type { ResponseSink, ResponseHandling } from './response-framer.js';
export { topicCacheKey, type TopicCacheScope } from './topic-caches.js';
export { kafkaPeakBufferedBytes, resetKafkaPeakBufferedBytes } from './stats.js';
