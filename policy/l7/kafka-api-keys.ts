// Kafka API keys as Cilium's kafka policy names them (pkg/policy/api/kafka/kafka.go, ≤1.18).
// Names keep Cilium's lower-case spelling, which is not Kafka's (ListOffsets is `offsets`).

import type { KafkaRole } from '../model.js';

/** The 34 names a rule's `apiKey` may use; keys from 34 on exist on the wire but cannot be named. */
export const KAFKA_API_KEYS = {
  produce: 0,
  fetch: 1,
  offsets: 2,
  metadata: 3,
  leaderandisr: 4,
  stopreplica: 5,
  updatemetadata: 6,
  controlledshutdown: 7,
  offsetcommit: 8,
  offsetfetch: 9,
  findcoordinator: 10,
  joingroup: 11,
  heartbeat: 12,
  leavegroup: 13,
  syncgroup: 14,
  describegroups: 15,
  listgroups: 16,
  saslhandshake: 17,
  apiversions: 18,
  createtopics: 19,
  deletetopics: 20,
  deleterecords: 21,
  initproducerid: 22,
  offsetforleaderepoch: 23,
  addpartitionstotxn: 24,
  addoffsetstotxn: 25,
  endtxn: 26,
  writetxnmarkers: 27,
  txnoffsetcommit: 28,
  describeacls: 29,
  createacls: 30,
  deleteacls: 31,
  describeconfigs: 32,
  alterconfigs: 33,
} as const;

export type KafkaApiKeyName = keyof typeof KAFKA_API_KEYS;

const NAMES_BY_KEY = new Map<number, KafkaApiKeyName>(
  Object.entries(KAFKA_API_KEYS).map(([name, key]) => [key, name as KafkaApiKeyName]),
);

/** The keys a `role` stands for (Cilium's produce/consume expansion). */
export const KAFKA_ROLE_API_KEYS: Readonly<Record<KafkaRole, ReadonlySet<number>>> = {
  produce: new Set([0, 3, 18]),
  consume: new Set([1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18]),
};

/**
 * Keys whose requests carry topics (kafkalib isTopicAPIKey); a rule's `topic` only constrains
 * these. 34 AlterReplicaLogDirs, 35 DescribeLogDirs and 37 CreatePartitions cannot be named.
 */
export const KAFKA_TOPIC_API_KEYS: ReadonlySet<number> = new Set([
  0, 1, 2, 3, 4, 5, 6, 8, 9, 19, 20, 21, 23, 24, 27, 28, 34, 35, 37,
]);

/** Case-insensitive, as Cilium's rule sanitizer reads `apiKey`. */
export function kafkaApiKeyFromName(name: string): number | undefined {
  const lower = name.toLowerCase();
  return Object.hasOwn(KAFKA_API_KEYS, lower) ? KAFKA_API_KEYS[lower as KafkaApiKeyName] : undefined;
}

export function kafkaApiKeyName(key: number): KafkaApiKeyName | undefined {
  return NAMES_BY_KEY.get(key);
}

/** A CLI argument: a Cilium key name, or any non-negative int16 so unnamed keys can be traced. */
export function parseKafkaApiKeyArg(arg: string): number | undefined {
  if (/^\d+$/.test(arg)) {
    const key = Number(arg);
    return key <= 32767 ? key : undefined;
  }
  return kafkaApiKeyFromName(arg);
}
