// Registers the Kafka filter with the listener compiler when proxylib/kafka is imported (proxylib's
// public entry imports it), as the built-in filters register in proxylib/config/filter-registry.ts.
// Terminal: it owns the connection's bytes; a network RBAC filter may precede it.
import { registerNetworkFilter } from '../config/index.js';
import { KAFKA_POLICY_TYPE } from './compile-policy.js';
import { compileKafkaFilter } from './kafka-filter.js';

registerNetworkFilter(KAFKA_POLICY_TYPE, compileKafkaFilter, { terminal: true });
