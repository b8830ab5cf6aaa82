// What a decoded Kafka request is about: the topics, topic ids, groups and transactional ids policy
// decides on, and whether the broker will answer it. Runs once per request on the proxy's hot path,
// so each API key has one small hand-written extractor (array lookup, no schema walk): the decoded
// message holds every field of its schema (absent-in-this-version fields at their default), so an
// extractor reads field names and checks the version only where two fields carry the same thing.
// A mechanical test (request-facts-consistency.test.ts) walks the schema set and fails when a
// field with entityType topicName/groupId/transactionalId or a topic-id uuid is not read here.

import type { KafkaMessage, KafkaRequestHeader } from '../protocol/index.js';
import { type TopicNameCache, ZERO_TOPIC_ID } from './topic-name-cache.js';

/**
 * The body facts of one request (same name as the matcher's input type, different meaning: import
 * one of them under another name where both are needed). policy's `KafkaRequestFacts`
 * (policy/l7/match-kafka-rules.ts) is the header plus two of these: `{ apiKey: header.apiKey,
 * apiVersion: header.apiVersion, clientID: header.clientId ?? undefined, topics, groups }`.
 * `unresolvedTopicIds`, `transactionalIds` and `expectsResponse` stay on the proxy side (the matcher
 * has no rule field for them: an unresolved id is answered UNKNOWN_TOPIC_ID when topics decide).
 */
export interface KafkaRequestFacts {
  /** Topic names; 'all' = the request addresses every topic (Metadata with a null topic array, ...). */
  topics: string[] | 'all';
  /** Topic ids of the request that the cache could not name (ID-only versions: Fetch v13+, ...). */
  unresolvedTopicIds: string[];
  /** Consumer/share group ids (incl. FindCoordinator keys of type GROUP and config resources of type GROUP). */
  groups: string[];
  transactionalIds: string[];
  /** Produce with acks=0: the broker sends no response. */
  expectsResponse: boolean;
}

/** Config resource types (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs; ConfigResource.Type). */
export const KAFKA_CONFIG_RESOURCE_TYPE = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, CLIENT_METRICS: 16, GROUP: 32 } as const;
/** FindCoordinator KeyType (CoordinatorType). */
export const KAFKA_COORDINATOR_TYPE = { GROUP: 0, TRANSACTION: 1, SHARE: 2 } as const;

/** For undecodable-but-known-framing cases (unknown api key/version): no topics, no groups, expectsResponse true. */
export function opaqueRequestFacts(): KafkaRequestFacts {
  return { topics: [], unresolvedTopicIds: [], groups: [], transactionalIds: [], expectsResponse: true };
}

export function requestFacts(header: KafkaRequestHeader, body: KafkaMessage, topicNames: TopicNameCache): KafkaRequestFacts {
  const facts = new FactsBuilder(topicNames);
  const extract = EXTRACTORS[header.apiKey];
  if (extract) extract(body, header.apiVersion, facts);
  return facts.done();
}

type Msg = KafkaMessage;
type Extractor = (m: Msg, version: number, f: FactsBuilder) => void;

class FactsBuilder {
  topics: string[] = [];
  allTopics = false;
  unresolved: string[] = [];
  groups: string[] = [];
  txnIds: string[] = [];
  expectsResponse = true;
  constructor(private readonly cache: TopicNameCache) {}

  topic(name: unknown): void {
    if (typeof name === 'string') this.topics.push(name);
  }
  topicId(id: unknown): void {
    if (typeof id !== 'string') return;
    const name = id === ZERO_TOPIC_ID ? undefined : this.cache.nameOf(id);
    if (name === undefined) this.unresolved.push(id);
    else this.topics.push(name);
  }
  group(id: unknown): void {
    if (typeof id === 'string') this.groups.push(id);
  }
  txn(id: unknown): void {
    // Nullable in Produce/InitProducerId: null = not transactional.
    if (typeof id === 'string') this.txnIds.push(id);
  }
  done(): KafkaRequestFacts {
    return {
      topics: this.allTopics ? 'all' : unique(this.topics),
      unresolvedTopicIds: unique(this.unresolved),
      groups: unique(this.groups),
      transactionalIds: unique(this.txnIds),
      expectsResponse: this.expectsResponse,
    };
  }
}

/** Drops repeats (a topic in two entries, groups of a batch naming the same topic). */
function unique(values: string[]): string[] {
  const n = values.length;
  if (n < 2) return values;
  if (n > 8) {
    const set = new Set(values);
    return set.size === n ? values : [...set];
  }
  // Small lists (nearly all requests): comparing in place beats hashing into a fresh Set.
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (values[i] === values[j]) return [...new Set(values)];
    }
  }
  return values;
}

function list(m: Msg, field: string): readonly Msg[] | null {
  const v = m[field];
  return Array.isArray(v) ? (v as Msg[]) : null;
}

/** `entries[].nameField` as topic names. */
function topicNamesAt(m: Msg, arrayField: string, nameField: string, f: FactsBuilder): void {
  const entries = list(m, arrayField);
  if (entries) for (const e of entries) f.topic(e[nameField]);
}

function topicIdsAt(m: Msg, arrayField: string, f: FactsBuilder): void {
  const entries = list(m, arrayField);
  if (entries) for (const e of entries) f.topicId(e['topicId']);
}

/** A nullable topic array where null means "every topic". */
function topicNamesOrAll(m: Msg, arrayField: string, nameField: string, f: FactsBuilder): void {
  if (m[arrayField] === null) f.allTopics = true;
  else topicNamesAt(m, arrayField, nameField, f);
}

function strings(m: Msg, field: string, add: (s: unknown) => void): void {
  const v = m[field];
  if (Array.isArray(v)) for (const s of v) add(s);
}

const groupIdOf: Extractor = (m, _v, f) => f.group(m['groupId']);

function configResources(m: Msg, f: FactsBuilder): void {
  const resources = list(m, 'resources');
  if (!resources) return;
  for (const r of resources) {
    const type = r['resourceType'];
    if (type === KAFKA_CONFIG_RESOURCE_TYPE.TOPIC) f.topic(r['resourceName']);
    else if (type === KAFKA_CONFIG_RESOURCE_TYPE.GROUP) f.group(r['resourceName']);
    // BROKER, BROKER_LOGGER, CLIENT_METRICS (and unknown types): cluster level, nothing to name.
  }
}

function coordinatorKey(key: unknown, keyType: unknown, f: FactsBuilder): void {
  if (keyType === KAFKA_COORDINATOR_TYPE.TRANSACTION) f.txn(key);
  // GROUP, SHARE, and any type this schema set does not know: judged as a group, so a groupID
  // rule cannot be passed by a key type that names nothing to the facts (fail closed).
  else f.group(key);
}

/** Indexed by API key. Keys without an entry carry nothing policy can name (cluster level). */
const EXTRACTORS: Array<Extractor | undefined> = [];
function on(apiKey: number, extract: Extractor): void {
  EXTRACTORS[apiKey] = extract;
}

// 0 Produce
on(0, (m, _v, f) => {
  f.txn(m['transactionalId']);
  topicNamesAt(m, 'topicData', 'name', f);
  if (m['acks'] === 0) f.expectsResponse = false;
});
// 1 Fetch: names up to v12, ids from v13. Forgotten topics are not read: forgetting a topic removes
// it from the fetch session and grants nothing, and denying it would wedge a session whose topic
// lost its rule.
on(1, (m, v, f) => (v >= 13 ? topicIdsAt(m, 'topics', f) : topicNamesAt(m, 'topics', 'topic', f)));
// 2 ListOffsets
on(2, (m, _v, f) => topicNamesAt(m, 'topics', 'name', f));
// 3 Metadata: null = all topics; v0 had no null, an empty array meant all. v10+ entries carry a
// nullable name and a topic id: the name when given, else the id.
on(3, (m, v, f) => {
  const topics = list(m, 'topics');
  if (topics === null || (v === 0 && topics.length === 0)) {
    f.allTopics = true;
    return;
  }
  // The broker's rule (KafkaApis.handleTopicMetadataRequest): when any entry carries a non-zero
  // topic id, it answers for the ids alone and ignores every name. Reading names first would let
  // `{ name: allowed, topicId: <id of secret> }` pass as `allowed` and disclose `secret`.
  const byId = topics.some((t) => typeof t['topicId'] === 'string' && t['topicId'] !== ZERO_TOPIC_ID);
  for (const t of topics) {
    if (byId) {
      if (t['topicId'] !== ZERO_TOPIC_ID) f.topicId(t['topicId']);
      continue;
    }
    const name = t['name'];
    if (typeof name === 'string') f.topic(name);
    else f.topicId(t['topicId']);
  }
});
// 4 LeaderAndIsr, 5 StopReplica, 6 UpdateMetadata: controller → broker; they name topics.
on(4, (m, v, f) => {
  if (v <= 1) topicNamesAt(m, 'ungroupedPartitionStates', 'topicName', f);
  else topicNamesAt(m, 'topicStates', 'topicName', f);
});
on(5, (m, v, f) => {
  if (v === 0) topicNamesAt(m, 'ungroupedPartitions', 'topicName', f);
  else if (v <= 2) topicNamesAt(m, 'topics', 'name', f);
  else topicNamesAt(m, 'topicStates', 'topicName', f);
});
on(6, (m, v, f) => {
  if (v <= 4) topicNamesAt(m, 'ungroupedPartitionStates', 'topicName', f);
  else topicNamesAt(m, 'topicStates', 'topicName', f);
});
// 8 OffsetCommit
on(8, (m, _v, f) => {
  f.group(m['groupId']);
  topicNamesAt(m, 'topics', 'name', f);
});
// 9 OffsetFetch: one group up to v7 (topics null = all of the group's), a batch of groups from v8.
on(9, (m, v, f) => {
  if (v <= 7) {
    f.group(m['groupId']);
    topicNamesOrAll(m, 'topics', 'name', f);
    return;
  }
  const groups = list(m, 'groups');
  if (groups) for (const g of groups) {
    f.group(g['groupId']);
    topicNamesOrAll(g, 'topics', 'name', f);
  }
});
// 10 FindCoordinator: one key up to v3 (v0 always a group), a batch of keys of one type from v4.
on(10, (m, v, f) => {
  if (v <= 3) coordinatorKey(m['key'], v === 0 ? KAFKA_COORDINATOR_TYPE.GROUP : m['keyType'], f);
  else strings(m, 'coordinatorKeys', (k) => coordinatorKey(k, m['keyType'], f));
});
// 11 JoinGroup, 12 Heartbeat, 13 LeaveGroup, 14 SyncGroup
on(11, groupIdOf);
on(12, groupIdOf);
on(13, groupIdOf);
on(14, groupIdOf);
// 15 DescribeGroups
on(15, (m, _v, f) => strings(m, 'groups', (g) => f.group(g)));
// 19 CreateTopics
on(19, (m, _v, f) => topicNamesAt(m, 'topics', 'name', f));
// 20 DeleteTopics: names up to v5; from v6 each entry has a nullable name or an id.
on(20, (m, v, f) => {
  if (v <= 5) {
    strings(m, 'topicNames', (n) => f.topic(n));
    return;
  }
  // A broker refuses an entry with both (INVALID_REQUEST); both are read anyway so that an allowed
  // name cannot carry the id of another topic past the rules.
  const topics = list(m, 'topics');
  if (topics) for (const t of topics) {
    const name = t['name'];
    const id = t['topicId'];
    if (typeof name === 'string') f.topic(name);
    if (typeof name !== 'string' || id !== ZERO_TOPIC_ID) f.topicId(id);
  }
});
// 21 DeleteRecords
on(21, (m, _v, f) => topicNamesAt(m, 'topics', 'name', f));
// 22 InitProducerId: null transactional id = idempotent producer only.
on(22, (m, _v, f) => f.txn(m['transactionalId']));
// 23 OffsetForLeaderEpoch
on(23, (m, _v, f) => topicNamesAt(m, 'topics', 'topic', f));
// 24 AddPartitionsToTxn: one transaction up to v3, a batch of transactions from v4.
on(24, (m, v, f) => {
  if (v <= 3) {
    f.txn(m['v3AndBelowTransactionalId']);
    topicNamesAt(m, 'v3AndBelowTopics', 'name', f);
    return;
  }
  const txns = list(m, 'transactions');
  if (txns) for (const t of txns) {
    f.txn(t['transactionalId']);
    topicNamesAt(t, 'topics', 'name', f);
  }
});
// 25 AddOffsetsToTxn
on(25, (m, _v, f) => {
  f.txn(m['transactionalId']);
  f.group(m['groupId']);
});
// 26 EndTxn
on(26, (m, _v, f) => f.txn(m['transactionalId']));
// 27 WriteTxnMarkers (broker → broker)
on(27, (m, _v, f) => {
  const markers = list(m, 'markers');
  if (markers) for (const mk of markers) topicNamesAt(mk, 'topics', 'name', f);
});
// 28 TxnOffsetCommit
on(28, (m, _v, f) => {
  f.txn(m['transactionalId']);
  f.group(m['groupId']);
  topicNamesAt(m, 'topics', 'name', f);
});
// 32 DescribeConfigs, 33 AlterConfigs, 44 IncrementalAlterConfigs
on(32, (m, _v, f) => configResources(m, f));
on(33, (m, _v, f) => configResources(m, f));
on(44, (m, _v, f) => configResources(m, f));
// 34 AlterReplicaLogDirs
on(34, (m, _v, f) => {
  const dirs = list(m, 'dirs');
  if (dirs) for (const d of dirs) topicNamesAt(d, 'topics', 'name', f);
});
// 35 DescribeLogDirs: null = every topic.
on(35, (m, _v, f) => topicNamesOrAll(m, 'topics', 'topic', f));
// 37 CreatePartitions
on(37, (m, _v, f) => topicNamesAt(m, 'topics', 'name', f));
// 42 DeleteGroups
on(42, (m, _v, f) => strings(m, 'groupsNames', (g) => f.group(g)));
// 43 ElectLeaders: null = every partition.
on(43, (m, _v, f) => topicNamesOrAll(m, 'topicPartitions', 'topic', f));
// 45 AlterPartitionReassignments
on(45, (m, _v, f) => topicNamesAt(m, 'topics', 'name', f));
// 46 ListPartitionReassignments: null = every reassignment.
on(46, (m, _v, f) => topicNamesOrAll(m, 'topics', 'name', f));
// 47 OffsetDelete
on(47, (m, _v, f) => {
  f.group(m['groupId']);
  topicNamesAt(m, 'topics', 'name', f);
});
// 52 Vote, 53 BeginQuorumEpoch, 54 EndQuorumEpoch, 55 DescribeQuorum (KRaft; the metadata topic)
for (const key of [52, 53, 54, 55]) on(key, (m, _v, f) => topicNamesAt(m, 'topics', 'topicName', f));
// 56 AlterPartition: names up to v1, ids from v2.
on(56, (m, v, f) => (v >= 2 ? topicIdsAt(m, 'topics', f) : topicNamesAt(m, 'topics', 'topicName', f)));
// 59 FetchSnapshot
on(59, (m, _v, f) => topicNamesAt(m, 'topics', 'name', f));
// 61 DescribeProducers
on(61, (m, _v, f) => topicNamesAt(m, 'topics', 'name', f));
// 65 DescribeTransactions
on(65, (m, _v, f) => strings(m, 'transactionalIds', (t) => f.txn(t)));
// 68 ConsumerGroupHeartbeat (KIP-848): the subscription names topics (null = unchanged), owned
// partitions name topic ids; a regex subscription (v1+) can match any topic.
on(68, (m, _v, f) => {
  f.group(m['groupId']);
  strings(m, 'subscribedTopicNames', (n) => f.topic(n));
  topicIdsAt(m, 'topicPartitions', f);
  const regex = m['subscribedTopicRegex'];
  if (typeof regex === 'string' && regex !== '') f.allTopics = true;
});
// 69 ConsumerGroupDescribe, 77 ShareGroupDescribe
on(69, (m, _v, f) => strings(m, 'groupIds', (g) => f.group(g)));
on(77, (m, _v, f) => strings(m, 'groupIds', (g) => f.group(g)));
// 73 AssignReplicasToDirs
on(73, (m, _v, f) => {
  const dirs = list(m, 'directories');
  if (dirs) for (const d of dirs) topicIdsAt(d, 'topics', f);
});
// 75 DescribeTopicPartitions: an empty list describes every topic. The cursor only pages through
// the topics the request names (or all of them), so it adds nothing.
on(75, (m, _v, f) => {
  const topics = list(m, 'topics');
  if (topics !== null && topics.length === 0) f.allTopics = true;
  else topicNamesAt(m, 'topics', 'name', f);
});
// 76 ShareGroupHeartbeat
on(76, (m, _v, f) => {
  f.group(m['groupId']);
  strings(m, 'subscribedTopicNames', (n) => f.topic(n));
});
// 78 ShareFetch, 79 ShareAcknowledge (KIP-932; forgotten topics as in Fetch)
on(78, (m, _v, f) => {
  f.group(m['groupId']);
  topicIdsAt(m, 'topics', f);
});
on(79, (m, _v, f) => {
  f.group(m['groupId']);
  topicIdsAt(m, 'topics', f);
});
// 83 InitializeShareGroupState ... 87 ReadShareGroupStateSummary (broker → share coordinator)
for (const key of [83, 84, 85, 86, 87]) {
  on(key, (m, _v, f) => {
    f.group(m['groupId']);
    topicIdsAt(m, 'topics', f);
  });
}
