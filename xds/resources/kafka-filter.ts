// The built-in proxy's Kafka filter config (meshd.filters.kafka.v1.KafkaPolicy): one endpoint's
// Kafka policy on one redirected port. Its meaning is spelled out in the proto; it mirrors
// policy/resolve/endpoint-policy.ts lookupFlow and policy/l7/match-kafka-rules.ts.
import { create } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { packAny } from '../codec/index.js';
import { KafkaPolicySchema, type KafkaPolicy } from '../generated/meshd/filters/kafka/v1/kafka_pb.js';
import { commonParts, validateCommonParts, type PeerPolicyPlan } from './peer-policy.js';
import { ProblemList, type ResourceProblem } from './problems.js';

export interface KafkaRequestPlan {
  apiKeys: number[];
  apiVersion?: number;
  clientId?: string;
  topic?: string;
  /** meshd extension: topics starting with this; never with `topic`. */
  topicPrefix?: string;
  /** meshd extension: exact consumer/share group id. */
  groupId?: string;
  role?: 'produce' | 'consume';
}

export type KafkaPolicyPlan = PeerPolicyPlan<KafkaRequestPlan>;

export function buildKafkaPolicy(plan: KafkaPolicyPlan): KafkaPolicy {
  const common = commonParts(plan);
  return create(KafkaPolicySchema, {
    ...common.init,
    rules: plan.rules.map((r) => ({
      ...common.ruleParts(r),
      requests: r.requests.map((q) => ({
        apiKeys: [...q.apiKeys].sort((a, b) => a - b),
        ...(q.apiVersion === undefined ? {} : { apiVersion: q.apiVersion }),
        clientId: q.clientId ?? '',
        topic: q.topic ?? '',
        role: q.role ?? '',
        topicPrefix: q.topicPrefix ?? '',
        groupId: q.groupId ?? '',
      })),
    })),
  });
}

export function validateKafkaPolicy(policy: KafkaPolicy): ResourceProblem[] {
  const p = new ProblemList();
  validateCommonParts(p, policy);
  policy.rules.forEach((rule, i) =>
    rule.requests.forEach((q, j) => {
      q.apiKeys.forEach((k, n) => {
        if (k > 32767) p.add(`rules[${i}].requests[${j}].api_keys[${n}]`, `API key ${k} is not an int16`);
      });
      if (q.role !== '' && q.role !== 'produce' && q.role !== 'consume') p.add(`rules[${i}].requests[${j}].role`, `unknown role "${q.role}"`);
      if (q.role !== '' && q.apiKeys.length > 0) p.add(`rules[${i}].requests[${j}]`, 'role and api_keys are exclusive');
      if (q.apiVersion !== undefined && q.apiVersion > 32767) p.add(`rules[${i}].requests[${j}].api_version`, `API version ${q.apiVersion} is not an int16`);
      // The policy loader refuses both; a rule with both would silently need both to match.
      if (q.topic !== '' && q.topicPrefix !== '') p.add(`rules[${i}].requests[${j}]`, 'topic and topic_prefix are exclusive');
    }),
  );
  return p.items;
}

export function encodeKafkaPolicy(policy: KafkaPolicy): Any {
  return packAny(KafkaPolicySchema, policy);
}

export { KafkaPolicySchema };
