// The answer to a denied request: the API's own response, in the request's version and header
// version, with the same correlation id, carrying an authorization error where that API's clients
// look for it. A client must never be left waiting, and must fail with "not authorized", not with a
// decode error or a timeout.
//
// How it is built: every response starts empty (the codec writes undefined properties as their
// defaults); APIs whose errors live per topic, partition, group, resource or key mirror the entries
// of the request into the response (DENY_SPECS below); every other API gets its top-level ErrorCode.
// Fields are set only where the version has them (schema-fields.ts `has`), since the codec rejects a
// non-default value in a field its version lacks. ThrottleTimeMs stays 0.

import {
  encodeResponse,
  KafkaProtocolError,
  type KafkaMessage,
  type KafkaRequestHeader,
  type KafkaStructDescriptor,
} from '../protocol/index.js';
import { KAFKA_ERROR } from './kafka-error.js';
import { KAFKA_CONFIG_RESOURCE_TYPE, KAFKA_COORDINATOR_TYPE } from './request-facts.js';
import { has, nullableIn, responseDescriptorOf, structOf } from './schema-fields.js';
import type { KafkaBrokerAddress } from './topic-name-cache.js';

/** What the request was denied for; picks the code where a field could carry either (OffsetCommit partitions: topic or group). */
export type KafkaDenyCause = 'topic' | 'group' | 'transactionalId' | 'cluster';

export interface DenyErrors {
  /** Per topic/partition entries (default TOPIC_AUTHORIZATION_FAILED). */
  topic: number;
  /** Per group entries and group APIs (default GROUP_AUTHORIZATION_FAILED). */
  group: number;
  /** APIs about no topic, group or transactional id (default CLUSTER_AUTHORIZATION_FAILED). */
  cluster: number;
  /** Transactional APIs and entries (default TRANSACTIONAL_ID_AUTHORIZATION_FAILED). */
  transactionalId: number;
  /**
   * Per topic override, keyed by the topic as the request names it: its name, or its topic id for
   * ID-only entries (e.g. UNKNOWN_TOPIC_ID for ids the proxy could not name).
   */
  perTopic?: ReadonlyMap<string, number>;
  /** Default 'topic'. 'group': entries that could carry a topic or a group error carry the group's. */
  cause?: KafkaDenyCause;
  /** ErrorMessage text where the response has one next to the error (default: none, clients print their own). */
  message?: string;
}

/**
 * Most entries (structs) one deny response may hold. A mirrored entry costs far more memory than the
 * request bytes that name it (an OffsetFetch partition index is 4 bytes on the wire, its response
 * entry a JS object), so a huge denied request is refused (MESHD_ERR_KAFKA_ENCODE: the caller closes
 * the connection) instead of letting one client make the proxy allocate gigabytes. No client sends a
 * request near this: Kafka clients fetch and produce hundreds to a few thousand partitions at a time.
 */
export const DENY_RESPONSE_MAX_ENTRIES = 250_000;

export const DEFAULT_DENY_ERRORS: Readonly<DenyErrors> = Object.freeze({
  topic: KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED,
  group: KAFKA_ERROR.GROUP_AUTHORIZATION_FAILED,
  cluster: KAFKA_ERROR.CLUSTER_AUTHORIZATION_FAILED,
  transactionalId: KAFKA_ERROR.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
});

export interface DenyContext {
  /**
   * Brokers a denied Metadata response lists. The Java client ignores a Metadata response without
   * brokers (it logs "Ignoring empty metadata response" and retries), so it would never see the topic
   * errors: pass the brokers the proxy learned (TopicNameCache.knownBrokers()) or the address the
   * client connected to. Empty by default.
   */
  brokers?: readonly KafkaBrokerAddress[];
}

/**
 * The API's own response to a denied request, in the request's version, as an encoded frame (size
 * prefix included, same correlation id). Every api key and version of the schema set has one.
 * `body` undefined (the header decoded but not the body): top-level errors only. Throws the codec's
 * MESHD_ERR_KAFKA_ENCODE for an api key or version outside the schema set.
 */
export function denyResponse(header: KafkaRequestHeader, body: KafkaMessage | undefined, errors: DenyErrors, context?: DenyContext): Buffer {
  const response = denyResponseBody(header.apiKey, header.apiVersion, body, errors, context);
  return encodeResponse(header.apiKey, header.apiVersion, header.correlationId, response);
}

/** The decoded form of denyResponse's body (tests, and callers that encode themselves). */
export function denyResponseBody(apiKey: number, apiVersion: number, body: KafkaMessage | undefined, errors: DenyErrors, context?: DenyContext): KafkaMessage {
  const descriptor = responseDescriptorOf(apiKey);
  if (!descriptor) return {}; // encodeResponse reports the unknown key.
  const d = new Deny(apiVersion, errors, context?.brokers ?? []);
  const root = descriptor.root;
  const request = body ?? {};
  const spec = DENY_SPECS[apiKey];
  if (spec) return spec(request, d, root);
  return d.make(root, { errorCode: d.topLevelCode(apiKey, request) });
}

type Msg = KafkaMessage;
type Struct = KafkaStructDescriptor;
type DenySpec = (req: Msg, d: Deny, root: Struct) => Msg;

class Deny {
  readonly cause: KafkaDenyCause;
  private entries = 0;
  constructor(
    readonly version: number,
    readonly errors: DenyErrors,
    readonly brokers: readonly KafkaBrokerAddress[],
  ) {
    this.cause = errors.cause ?? 'topic';
  }

  /** A fresh object with the given fields that the struct has in this version. */
  make(struct: Struct, values: Record<string, unknown>): Msg {
    if (++this.entries > DENY_RESPONSE_MAX_ENTRIES) {
      throw new KafkaProtocolError('MESHD_ERR_KAFKA_ENCODE', `a deny response for this request would hold more than ${DENY_RESPONSE_MAX_ENTRIES} entries`);
    }
    const out: Msg = {};
    for (const name in values) if (has(struct, name, this.version)) out[name] = values[name];
    // A nullable ErrorMessage left to the codec would be written as '' (the schemas give no
    // default); brokers send null, and the Java client falls back to its own text only for null.
    if ('errorCode' in values && !('errorMessage' in values) && has(struct, 'errorMessage', this.version)) {
      const code = values['errorCode'];
      if (this.errors.message !== undefined && code !== 0) out['errorMessage'] = this.errors.message;
      else if (nullableIn(struct, 'errorMessage', this.version)) out['errorMessage'] = null;
    }
    return out;
  }

  /** The code the denial's cause stands for (where nothing finer-grained applies). */
  causeCode(): number {
    switch (this.cause) {
      case 'group':
        return this.errors.group;
      case 'transactionalId':
        return this.errors.transactionalId;
      case 'cluster':
        return this.errors.cluster;
      default:
        return this.errors.topic;
    }
  }

  /** The error of a topic's own entry (topic names it by name or id). */
  topicCode(topic: unknown): number {
    return (typeof topic === 'string' ? this.errors.perTopic?.get(topic) : undefined) ?? this.errors.topic;
  }

  /** A topic or partition entry of an API that is also about a group or transaction. */
  entryCode(topic: unknown): number {
    if (this.cause === 'group') return this.errors.group;
    if (this.cause === 'transactionalId') return this.errors.transactionalId;
    return this.topicCode(topic);
  }

  coordinatorCode(keyType: unknown): number {
    if (keyType === KAFKA_COORDINATOR_TYPE.GROUP || keyType === KAFKA_COORDINATOR_TYPE.SHARE) return this.errors.group;
    if (keyType === KAFKA_COORDINATOR_TYPE.TRANSACTION) return this.errors.transactionalId;
    return this.errors.cluster;
  }

  /** The top-level ErrorCode of an API answered as a whole. */
  topLevelCode(apiKey: number, req: Msg): number {
    switch (apiKey) {
      case 11: // JoinGroup
      case 12: // Heartbeat
      case 13: // LeaveGroup
      case 14: // SyncGroup
        return this.errors.group;
      case 68: // ConsumerGroupHeartbeat: a subscription to an unauthorized topic fails with the topic's error
      case 76: // ShareGroupHeartbeat
      case 78: // ShareFetch
      case 79: // ShareAcknowledge
        return this.cause === 'topic' ? this.errors.topic : this.errors.group;
      case 22: // InitProducerId: a transactional producer, or an idempotent one (cluster level)
        return typeof req['transactionalId'] === 'string' ? this.errors.transactionalId : this.errors.cluster;
      case 25: // AddOffsetsToTxn: the transactional id, or the group it adds
        return this.cause === 'group' ? this.errors.group : this.errors.transactionalId;
      case 26: // EndTxn
        return this.errors.transactionalId;
      default:
        return this.errors.cluster;
    }
  }
}

const EMPTY_RECORDS = Buffer.alloc(0);

function list(m: Msg, field: string): readonly Msg[] {
  const v = m[field];
  return Array.isArray(v) ? (v as Msg[]) : [];
}

function ints(m: Msg, field: string): readonly number[] {
  const v = m[field];
  return Array.isArray(v) ? (v as number[]) : [];
}

function strs(m: Msg, field: string): readonly unknown[] {
  const v = m[field];
  return Array.isArray(v) ? v : [];
}

/** Request topics with partition entries → response topics with partition errors. */
function mirrorTopics(
  d: Deny,
  topics: readonly Msg[],
  topicStruct: Struct,
  t: { name: string; partitions: string; outName?: string; outPartitions?: string },
  partition: (p: Msg, code: number) => Record<string, unknown>,
  code: (topic: unknown) => number,
): Msg[] {
  const partStruct = structOf(topicStruct, t.outPartitions ?? t.partitions);
  return topics.map((topic) => {
    const name = topic[t.name];
    const c = code(name);
    return d.make(topicStruct, {
      [t.outName ?? t.name]: name,
      [t.outPartitions ?? t.partitions]: list(topic, t.partitions).map((p) => d.make(partStruct, partition(p, c))),
    });
  });
}

/** Same, where the request lists partitions as int32 indexes. */
function mirrorIndexes(
  d: Deny,
  topics: readonly Msg[],
  topicStruct: Struct,
  t: { inName: string; inIndexes: string; outName: string; outPartitions: string; index: string; errorField?: string },
  code: (topic: unknown) => number,
): Msg[] {
  const partStruct = structOf(topicStruct, t.outPartitions);
  return topics.map((topic) => {
    const name = topic[t.inName];
    const c = code(name);
    return d.make(topicStruct, {
      [t.outName]: name,
      [t.outPartitions]: ints(topic, t.inIndexes).map((i) => d.make(partStruct, { [t.index]: i, [t.errorField ?? 'errorCode']: c })),
    });
  });
}

const DENY_SPECS: Array<DenySpec | undefined> = [];
function on(apiKey: number, spec: DenySpec): void {
  DENY_SPECS[apiKey] = spec;
}

// 0 Produce: every topic and partition of the request, baseOffset -1 as a broker answers errors.
on(0, (req, d, root) => {
  const topicStruct = structOf(root, 'responses');
  const partStruct = structOf(topicStruct, 'partitionResponses');
  return d.make(root, {
    responses: list(req, 'topicData').map((t) => {
      const c = d.entryCode(t['name']);
      return d.make(topicStruct, {
        name: t['name'],
        partitionResponses: list(t, 'partitionData').map((p) => d.make(partStruct, { index: p['index'], errorCode: c, baseOffset: -1n })),
      });
    }),
  });
});

// 1 Fetch: per-partition errors under a top-level NONE, which is what a broker answers for an
// unauthorized topic and the only place the Java consumer turns into TopicAuthorizationException (a
// top-level error only resets its fetch session, quietly). The top-level code carries the error
// when the request names no partition (an incremental fetch with nothing changed). sessionId 0
// closes any fetch session, so the client's next fetch is a full one that names all its partitions.
on(1, (req, d, root) => {
  const v = d.version;
  const key = v >= 13 ? 'topicId' : 'topic';
  const topicStruct = structOf(root, 'responses');
  const partStruct = structOf(topicStruct, 'partitions');
  let partitions = 0;
  const responses = list(req, 'topics').map((t) => {
    const c = d.topicCode(t[key]);
    const parts = list(t, 'partitions').map((p) =>
      d.make(partStruct, {
        partitionIndex: p['partition'],
        errorCode: c,
        highWatermark: -1n,
        lastStableOffset: -1n,
        logStartOffset: -1n,
        preferredReadReplica: -1,
        records: EMPTY_RECORDS,
      }),
    );
    partitions += parts.length;
    return d.make(topicStruct, { [key]: t[key], partitions: parts });
  });
  return d.make(root, { errorCode: partitions > 0 ? KAFKA_ERROR.NONE : d.causeCode(), sessionId: 0, responses });
});

// 2 ListOffsets
on(2, (req, d, root) =>
  d.make(root, {
    topics: mirrorTopics(d, list(req, 'topics'), structOf(root, 'topics'), { name: 'name', partitions: 'partitions' },
      (p, c) => ({ partitionIndex: p['partitionIndex'], errorCode: c, timestamp: -1n, offset: -1n }), (n) => d.topicCode(n)),
  }),
);

// 3 Metadata: every requested topic with the error, no partitions. A request for all topics gets an
// empty topic list: a broker answers such a request with the topics the client may see, and for a
// denied one that is none (the client sees an empty cluster, not an error: Cilium did the same).
// Brokers: see DenyContext.
on(3, (req, d, root) => {
  const brokerStruct = structOf(root, 'brokers');
  const topicStruct = structOf(root, 'topics');
  const requested = req['topics'];
  const topics = Array.isArray(requested) && !(d.version === 0 && requested.length === 0) ? (requested as Msg[]) : [];
  const nullName = nullableIn(topicStruct, 'name', d.version) ? null : '';
  return d.make(root, {
    brokers: d.brokers.map((b) => d.make(brokerStruct, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
    controllerId: -1,
    topics: topics.map((t) => {
      const name = typeof t['name'] === 'string' ? t['name'] : null;
      return d.make(topicStruct, {
        errorCode: d.topicCode(name ?? t['topicId']),
        name: name ?? nullName,
        topicId: t['topicId'],
        isInternal: false,
        partitions: [],
      });
    }),
  });
});

// 8 OffsetCommit
on(8, (req, d, root) =>
  d.make(root, {
    topics: mirrorTopics(d, list(req, 'topics'), structOf(root, 'topics'), { name: 'name', partitions: 'partitions' },
      (p, c) => ({ partitionIndex: p['partitionIndex'], errorCode: c }), (n) => d.entryCode(n)),
  }),
);

// 9 OffsetFetch: up to v7 one group (top-level error from v2), from v8 a batch of groups. A group
// denial is the group's error; a topic denial is per partition, or the group's when it names none.
on(9, (req, d, root) => {
  const part = (i: number, c: number) => ({ partitionIndex: i, committedOffset: -1n, committedLeaderEpoch: -1, errorCode: c });
  const groupLevel = (partitions: number) => (d.cause === 'group' ? d.errors.group : partitions > 0 ? KAFKA_ERROR.NONE : d.causeCode());
  const countParts = (topics: readonly Msg[]) => topics.reduce((n, t) => n + ints(t, 'partitionIndexes').length, 0);
  if (d.version <= 7) {
    const topics = list(req, 'topics');
    const topicStruct = structOf(root, 'topics');
    const partStruct = structOf(topicStruct, 'partitions');
    return d.make(root, {
      errorCode: groupLevel(countParts(topics)),
      topics: topics.map((t) => {
        const c = d.entryCode(t['name']);
        return d.make(topicStruct, { name: t['name'], partitions: ints(t, 'partitionIndexes').map((i) => d.make(partStruct, part(i, c))) });
      }),
    });
  }
  const groupStruct = structOf(root, 'groups');
  const topicStruct = structOf(groupStruct, 'topics');
  const partStruct = structOf(topicStruct, 'partitions');
  return d.make(root, {
    groups: list(req, 'groups').map((g) => {
      const topics = list(g, 'topics');
      return d.make(groupStruct, {
        groupId: g['groupId'],
        errorCode: groupLevel(countParts(topics)),
        topics: topics.map((t) => {
          const c = d.entryCode(t['name']);
          return d.make(topicStruct, { name: t['name'], partitions: ints(t, 'partitionIndexes').map((i) => d.make(partStruct, part(i, c))) });
        }),
      });
    }),
  });
});

// 10 FindCoordinator: no coordinator (node -1), the key type's error; from v4 one entry per key.
on(10, (req, d, root) => {
  const keyType = d.version === 0 ? KAFKA_COORDINATOR_TYPE.GROUP : req['keyType'];
  const code = d.coordinatorCode(keyType);
  if (d.version <= 3) return d.make(root, { errorCode: code, nodeId: -1, host: '', port: -1 });
  const coordinatorStruct = structOf(root, 'coordinators');
  return d.make(root, {
    coordinators: strs(req, 'coordinatorKeys').map((key) => d.make(coordinatorStruct, { key, nodeId: -1, host: '', port: -1, errorCode: code })),
  });
});

// 15 DescribeGroups, 42 DeleteGroups, 69 ConsumerGroupDescribe, 77 ShareGroupDescribe: per group.
on(15, (req, d, root) => d.make(root, { groups: strs(req, 'groups').map((g) => d.make(structOf(root, 'groups'), { groupId: g, errorCode: d.errors.group })) }));
on(42, (req, d, root) => d.make(root, { results: strs(req, 'groupsNames').map((g) => d.make(structOf(root, 'results'), { groupId: g, errorCode: d.errors.group })) }));
for (const key of [69, 77]) {
  on(key, (req, d, root) => d.make(root, { groups: strs(req, 'groupIds').map((g) => d.make(structOf(root, 'groups'), { groupId: g, errorCode: d.errors.group })) }));
}

// 19 CreateTopics, 37 CreatePartitions: per topic.
on(19, (req, d, root) =>
  d.make(root, {
    topics: list(req, 'topics').map((t) => d.make(structOf(root, 'topics'), { name: t['name'], errorCode: d.topicCode(t['name']), numPartitions: -1, replicationFactor: -1 })),
  }),
);
on(37, (req, d, root) =>
  d.make(root, { results: list(req, 'topics').map((t) => d.make(structOf(root, 'results'), { name: t['name'], errorCode: d.topicCode(t['name']) })) }),
);

// 20 DeleteTopics: names up to v5; from v6 a name or an id per entry.
on(20, (req, d, root) => {
  const resultStruct = structOf(root, 'responses');
  if (d.version <= 5) {
    return d.make(root, { responses: strs(req, 'topicNames').map((n) => d.make(resultStruct, { name: n, errorCode: d.topicCode(n) })) });
  }
  return d.make(root, {
    responses: list(req, 'topics').map((t) => {
      const name = typeof t['name'] === 'string' ? t['name'] : null;
      return d.make(resultStruct, { name, topicId: t['topicId'], errorCode: d.topicCode(name ?? t['topicId']) });
    }),
  });
});

// 21 DeleteRecords
on(21, (req, d, root) =>
  d.make(root, {
    topics: mirrorTopics(d, list(req, 'topics'), structOf(root, 'topics'), { name: 'name', partitions: 'partitions' },
      (p, c) => ({ partitionIndex: p['partitionIndex'], lowWatermark: -1n, errorCode: c }), (n) => d.topicCode(n)),
  }),
);

// 23 OffsetForLeaderEpoch
on(23, (req, d, root) =>
  d.make(root, {
    topics: mirrorTopics(d, list(req, 'topics'), structOf(root, 'topics'), { name: 'topic', partitions: 'partitions' },
      (p, c) => ({ partition: p['partition'], errorCode: c, leaderEpoch: -1, endOffset: -1n }), (n) => d.topicCode(n)),
  }),
);

// 24 AddPartitionsToTxn: one transaction up to v3, a batch from v4 (top-level error when it is empty).
on(24, (req, d, root) => {
  const mirror = (topics: readonly Msg[], topicStruct: Struct) =>
    mirrorIndexes(d, topics, topicStruct, { inName: 'name', inIndexes: 'partitions', outName: 'name', outPartitions: 'resultsByPartition', index: 'partitionIndex', errorField: 'partitionErrorCode' },
      (n) => d.entryCode(n));
  if (d.version <= 3) return d.make(root, { resultsByTopicV3AndBelow: mirror(list(req, 'v3AndBelowTopics'), structOf(root, 'resultsByTopicV3AndBelow')) });
  const txnStruct = structOf(root, 'resultsByTransaction');
  const txns = list(req, 'transactions');
  return d.make(root, {
    errorCode: txns.length > 0 ? KAFKA_ERROR.NONE : d.causeCode(),
    resultsByTransaction: txns.map((t) => d.make(txnStruct, { transactionalId: t['transactionalId'], topicResults: mirror(list(t, 'topics'), structOf(txnStruct, 'topicResults')) })),
  });
});

// 27 WriteTxnMarkers (broker → broker: a cluster action)
on(27, (req, d, root) => {
  const markerStruct = structOf(root, 'markers');
  return d.make(root, {
    markers: list(req, 'markers').map((m) =>
      d.make(markerStruct, {
        producerId: m['producerId'],
        topics: mirrorIndexes(d, list(m, 'topics'), structOf(markerStruct, 'topics'), { inName: 'name', inIndexes: 'partitionIndexes', outName: 'name', outPartitions: 'partitions', index: 'partitionIndex' },
          () => d.errors.cluster),
      }),
    ),
  });
});

// 28 TxnOffsetCommit
on(28, (req, d, root) =>
  d.make(root, {
    topics: mirrorTopics(d, list(req, 'topics'), structOf(root, 'topics'), { name: 'name', partitions: 'partitions' },
      (p, c) => ({ partitionIndex: p['partitionIndex'], errorCode: c }), (n) => d.entryCode(n)),
  }),
);

// 30 CreateAcls, 31 DeleteAcls: one result per creation / filter (ACLs are cluster-level).
on(30, (req, d, root) => d.make(root, { results: list(req, 'creations').map(() => d.make(structOf(root, 'results'), { errorCode: d.errors.cluster })) }));
on(31, (req, d, root) => d.make(root, { filterResults: list(req, 'filters').map(() => d.make(structOf(root, 'filterResults'), { errorCode: d.errors.cluster })) }));

// 32 DescribeConfigs, 33 AlterConfigs, 44 IncrementalAlterConfigs: per resource, by resource type.
function configResults(field: string): DenySpec {
  return (req, d, root) => {
    const resultStruct = structOf(root, field);
    return d.make(root, {
      [field]: list(req, 'resources').map((r) => {
        const type = r['resourceType'];
        const code = type === KAFKA_CONFIG_RESOURCE_TYPE.TOPIC ? d.topicCode(r['resourceName'])
          : type === KAFKA_CONFIG_RESOURCE_TYPE.GROUP ? d.errors.group
          : d.errors.cluster;
        return d.make(resultStruct, { errorCode: code, resourceType: type, resourceName: r['resourceName'] });
      }),
    });
  };
}
on(32, configResults('results'));
on(33, configResults('responses'));
on(44, configResults('responses'));

// 34 AlterReplicaLogDirs: the topics of every dir.
on(34, (req, d, root) =>
  d.make(root, {
    results: list(req, 'dirs').flatMap((dir) =>
      mirrorIndexes(d, list(dir, 'topics'), structOf(root, 'results'), { inName: 'name', inIndexes: 'partitions', outName: 'topicName', outPartitions: 'partitions', index: 'partitionIndex' },
        (n) => d.topicCode(n)),
    ),
  }),
);

// 35 DescribeLogDirs: top-level error from v3; before that a broker's only place is a log dir
// result, so the answer is one result (log dir '') with the error.
on(35, (_req, d, root) => {
  if (d.version >= 3) return d.make(root, { errorCode: d.errors.cluster });
  return d.make(root, { results: [d.make(structOf(root, 'results'), { errorCode: d.errors.cluster, logDir: '' })] });
});

// 43 ElectLeaders: top-level error from v1; v0 per requested partition.
on(43, (req, d, root) => {
  if (d.version >= 1) return d.make(root, { errorCode: d.errors.cluster });
  return d.make(root, {
    replicaElectionResults: mirrorIndexes(d, list(req, 'topicPartitions'), structOf(root, 'replicaElectionResults'),
      { inName: 'topic', inIndexes: 'partitions', outName: 'topic', outPartitions: 'partitionResult', index: 'partitionId' }, () => d.errors.cluster),
  });
});

// 47 OffsetDelete: a group denial at the top; a topic denial per partition.
on(47, (req, d, root) => {
  const topics = list(req, 'topics');
  const partitions = topics.reduce((n, t) => n + list(t, 'partitions').length, 0);
  return d.make(root, {
    errorCode: d.cause === 'group' ? d.errors.group : partitions > 0 ? KAFKA_ERROR.NONE : d.causeCode(),
    topics: mirrorTopics(d, topics, structOf(root, 'topics'), { name: 'name', partitions: 'partitions' },
      (p, c) => ({ partitionIndex: p['partitionIndex'], errorCode: c }), (n) => d.entryCode(n)),
  });
});

// 49 AlterClientQuotas: per entry, its entity echoed.
on(49, (req, d, root) => {
  const entryStruct = structOf(root, 'entries');
  const entityStruct = structOf(entryStruct, 'entity');
  return d.make(root, {
    entries: list(req, 'entries').map((e) =>
      d.make(entryStruct, {
        errorCode: d.errors.cluster,
        entity: list(e, 'entity').map((x) => d.make(entityStruct, { entityType: x['entityType'], entityName: x['entityName'] })),
      }),
    ),
  });
});

// 51 AlterUserScramCredentials: per deletion and upsertion.
on(51, (req, d, root) => {
  const resultStruct = structOf(root, 'results');
  return d.make(root, {
    results: [...list(req, 'deletions'), ...list(req, 'upsertions')].map((x) => d.make(resultStruct, { user: x['name'], errorCode: d.errors.cluster })),
  });
});

// 61 DescribeProducers
on(61, (req, d, root) =>
  d.make(root, {
    topics: mirrorIndexes(d, list(req, 'topics'), structOf(root, 'topics'), { inName: 'name', inIndexes: 'partitionIndexes', outName: 'name', outPartitions: 'partitions', index: 'partitionIndex' },
      (n) => d.topicCode(n)),
  }),
);

// 65 DescribeTransactions: per transactional id.
on(65, (req, d, root) =>
  d.make(root, {
    transactionStates: strs(req, 'transactionalIds').map((id) =>
      d.make(structOf(root, 'transactionStates'), { transactionalId: id, errorCode: d.errors.transactionalId, producerId: -1n, producerEpoch: -1 }),
    ),
  }),
);

// 75 DescribeTopicPartitions: per requested topic; all topics (an empty list) → none, as Metadata.
on(75, (req, d, root) =>
  d.make(root, {
    topics: list(req, 'topics').map((t) => d.make(structOf(root, 'topics'), { errorCode: d.topicCode(t['name']), name: t['name'], isInternal: false, partitions: [] })),
    nextCursor: null,
  }),
);

// 83-87 share group state (broker → share coordinator: a cluster action), per topic id and partition.
for (const key of [83, 84, 85, 86, 87]) {
  on(key, (req, d, root) =>
    d.make(root, {
      results: mirrorTopics(d, list(req, 'topics'), structOf(root, 'results'), { name: 'topicId', partitions: 'partitions' },
        (p, c) => ({ partition: p['partition'], errorCode: c }), () => d.errors.cluster),
    }),
  );
}
