// Kafka API keys: their names, the keys a `role` stands for, and which requests carry topics or
// consumer groups. These are protocol facts, written out here (not computed at run time) because
// the policy layer must not depend on the proxy's codec.
//
// Derived from Apache Kafka's request schemas (clients/src/main/resources/common/message/*Request.json)
// at apache/kafka 1eb7644349cb07139d6a3c1ad1986979647cac99 (2024-10-25, 4.0.0-SNAPSHOT, keys 0–87):
// names are the schema names without "Request"; a key carries topics when its request has a field
// with entityType topicName, a topic id (uuid field TopicId), unnamed topic-name strings
// (ShareGroupHeartbeat SubscribedTopicNames) or config/ACL resources that may be topics; groups
// likewise (entityType groupId, the share-group state APIs' GroupId, FindCoordinator keys,
// config/ACL resources that may be groups). kafka-api-keys.test.ts checks the tables against
// proxylib/kafka/protocol/messages.json, our normalized extract of those schemas.

import type { KafkaRole } from '../model.js';

/** Kafka's own API names, indexed by API key. */
export const KAFKA_API_NAMES: readonly string[] = [
  'Produce', // 0
  'Fetch', // 1
  'ListOffsets', // 2
  'Metadata', // 3
  'LeaderAndIsr', // 4
  'StopReplica', // 5
  'UpdateMetadata', // 6
  'ControlledShutdown', // 7
  'OffsetCommit', // 8
  'OffsetFetch', // 9
  'FindCoordinator', // 10
  'JoinGroup', // 11
  'Heartbeat', // 12
  'LeaveGroup', // 13
  'SyncGroup', // 14
  'DescribeGroups', // 15
  'ListGroups', // 16
  'SaslHandshake', // 17
  'ApiVersions', // 18
  'CreateTopics', // 19
  'DeleteTopics', // 20
  'DeleteRecords', // 21
  'InitProducerId', // 22
  'OffsetForLeaderEpoch', // 23
  'AddPartitionsToTxn', // 24
  'AddOffsetsToTxn', // 25
  'EndTxn', // 26
  'WriteTxnMarkers', // 27
  'TxnOffsetCommit', // 28
  'DescribeAcls', // 29
  'CreateAcls', // 30
  'DeleteAcls', // 31
  'DescribeConfigs', // 32
  'AlterConfigs', // 33
  'AlterReplicaLogDirs', // 34
  'DescribeLogDirs', // 35
  'SaslAuthenticate', // 36
  'CreatePartitions', // 37
  'CreateDelegationToken', // 38
  'RenewDelegationToken', // 39
  'ExpireDelegationToken', // 40
  'DescribeDelegationToken', // 41
  'DeleteGroups', // 42
  'ElectLeaders', // 43
  'IncrementalAlterConfigs', // 44
  'AlterPartitionReassignments', // 45
  'ListPartitionReassignments', // 46
  'OffsetDelete', // 47
  'DescribeClientQuotas', // 48
  'AlterClientQuotas', // 49
  'DescribeUserScramCredentials', // 50
  'AlterUserScramCredentials', // 51
  'Vote', // 52
  'BeginQuorumEpoch', // 53
  'EndQuorumEpoch', // 54
  'DescribeQuorum', // 55
  'AlterPartition', // 56
  'UpdateFeatures', // 57
  'Envelope', // 58
  'FetchSnapshot', // 59
  'DescribeCluster', // 60
  'DescribeProducers', // 61
  'BrokerRegistration', // 62
  'BrokerHeartbeat', // 63
  'UnregisterBroker', // 64
  'DescribeTransactions', // 65
  'ListTransactions', // 66
  'AllocateProducerIds', // 67
  'ConsumerGroupHeartbeat', // 68
  'ConsumerGroupDescribe', // 69
  'ControllerRegistration', // 70
  'GetTelemetrySubscriptions', // 71
  'PushTelemetry', // 72
  'AssignReplicasToDirs', // 73
  'ListClientMetricsResources', // 74
  'DescribeTopicPartitions', // 75
  'ShareGroupHeartbeat', // 76
  'ShareGroupDescribe', // 77
  'ShareFetch', // 78
  'ShareAcknowledge', // 79
  'AddRaftVoter', // 80
  'RemoveRaftVoter', // 81
  'UpdateRaftVoter', // 82
  'InitializeShareGroupState', // 83
  'ReadShareGroupState', // 84
  'WriteShareGroupState', // 85
  'DeleteShareGroupState', // 86
  'ReadShareGroupStateSummary', // 87
];

/**
 * The 34 names Cilium's kafka policy gave `apiKey` (pkg/policy/api/kafka/kafka.go, ≤1.18), kept so
 * Cilium policies load unchanged. They are Kafka's names lower-cased, except `offsets` (ListOffsets).
 */
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

/** Every name `apiKey` accepts, lower-case: Cilium's spellings and Kafka's names of keys 0–87. */
const KEYS_BY_NAME = new Map<string, number>([
  ...KAFKA_API_NAMES.map((name, key): [string, number] => [name.toLowerCase(), key]),
  ...Object.entries(KAFKA_API_KEYS),
]);

/** Display names: Cilium's spelling where it had one (so `offsets` stays `offsets`), else Kafka's. */
const NAMES_BY_KEY = new Map<number, string>([
  ...KAFKA_API_NAMES.map((name, key): [number, string] => [key, name.toLowerCase()]),
  ...Object.entries(KAFKA_API_KEYS).map(([name, key]): [number, string] => [key, name]),
]);

/**
 * The keys a `role` stands for. Cilium's sets (produce: Produce, Metadata, ApiVersions; consume:
 * Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat,
 * LeaveGroup, SyncGroup, ApiVersions) plus what today's clients send on the same path, which
 * Cilium's sets predate: produce adds InitProducerId (22; idempotent producers, the Java client's
 * default since 3.0, librdkafka with enable.idempotence), consume adds OffsetForLeaderEpoch (23;
 * KIP-320 log truncation detection, Java and librdkafka ≥ 1.9).
 */
export const KAFKA_ROLE_API_KEYS: Readonly<Record<KafkaRole, ReadonlySet<number>>> = {
  produce: new Set([0, 3, 18, 22]),
  consume: new Set([1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18, 23]),
};

/**
 * Keys whose requests may carry topics; a rule's `topic`/`topicPrefix` constrains only these, and
 * constrains them fully: such a request whose topics are unknown (an unparsed body, a Metadata
 * request for all topics) is allowed only by rules without a topic. A key missing here would let a
 * topic rule pass it whatever topics it names, so doubtful keys are in: the config APIs (32, 33, 44)
 * and the ACL APIs (29–31), whose resources may be topics, and Envelope (58), which wraps any request.
 * Cilium's list (kafkalib isTopicAPIKey) was 0–6, 8, 9, 19–21, 23, 24, 27, 28, 34, 35, 37.
 */
export const KAFKA_TOPIC_API_KEYS: ReadonlySet<number> = new Set([
  0, 1, 2, 3, 4, 5, 6, 8, 9, 19, 20, 21, 23, 24, 27, 28, 29, 30, 31, 32, 33, 34, 35, 37, 43, 44, 45, 46, 47, 52, 53,
  54, 55, 56, 58, 59, 61, 68, 73, 75, 76, 78, 79, 83, 84, 85, 86, 87,
]);

/**
 * Keys whose requests may carry consumer or share group ids; a rule's `groupID` constrains only
 * these, the same way as `topic` constrains topic keys. Doubtful keys are in for the same reason:
 * FindCoordinator (10; its GROUP keys), ListGroups (16; names no group but lists them all, like a
 * Metadata request for all topics), the ACL and config APIs (resources may be groups), Envelope.
 */
export const KAFKA_GROUP_API_KEYS: ReadonlySet<number> = new Set([
  8, 9, 10, 11, 12, 13, 14, 15, 16, 25, 28, 29, 30, 31, 32, 33, 42, 44, 47, 58, 68, 69, 76, 77, 78, 79, 83, 84, 85,
  86, 87,
]);

/** Case-insensitive, as Cilium's rule sanitizer reads `apiKey`; Kafka's names are accepted too. */
export function kafkaApiKeyFromName(name: string): number | undefined {
  return KEYS_BY_NAME.get(name.toLowerCase());
}

/** The lower-case name of a key: Cilium's spelling where it had one, else Kafka's name. */
export function kafkaApiKeyName(key: number): string | undefined {
  return NAMES_BY_KEY.get(key);
}

/** Every name `apiKey` accepts, lower-case, for hints ("did you mean"). */
export function kafkaApiKeyNames(): string[] {
  return [...KEYS_BY_NAME.keys()];
}

/** A CLI argument: an API name, or any non-negative int16 so keys newer than the table can be traced. */
export function parseKafkaApiKeyArg(arg: string): number | undefined {
  if (/^\d+$/.test(arg)) {
    const key = Number(arg);
    return key <= 32767 ? key : undefined;
  }
  return kafkaApiKeyFromName(arg);
}

/**
 * Kafka's legal topic names (1–255 of letters, digits, `.`, `_`, `-`), Cilium's rule for `topic`.
 * The loader checks `topic`/`topicPrefix` with it, and the proxy checks what xDS hands it: names
 * outside this set are how the filter marks topic ids it cannot name, so a rule must never hold one.
 */
export function isKafkaTopicName(s: string): boolean {
  return KAFKA_TOPIC_NAME.test(s);
}
const KAFKA_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,255}$/;
