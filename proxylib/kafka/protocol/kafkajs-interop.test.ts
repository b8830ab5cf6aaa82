// Independent check of the codec: kafkajs 2.2.4 has its own hand-written encoders and decoders for
// the non-flexible versions it speaks. Requests kafkajs encodes must decode with ours to the same
// values; responses we encode must decode with kafkajs's decoders.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  decodeKafkaData,
  decodeRequestBody,
  decodeRequestHeader,
  defaultMessage,
  encodeKafkaData,
  encodeResponse,
  type KafkaMessage,
} from './index.js';

const require = createRequire(import.meta.url);
interface KafkajsRequest { apiKey: number; apiVersion: number; encode: () => Promise<unknown> }
interface KafkajsEncoder { buffer: Buffer }
const frameRequest = require('kafkajs/src/protocol/request.js') as (a: { correlationId: number; clientId: string; request: KafkajsRequest }) => Promise<KafkajsEncoder>;
const req = (path: string): ((args: Record<string, unknown>) => KafkajsRequest) => require(`kafkajs/src/protocol/requests/${path}/request.js`);
const res = (path: string): { decode: (payload: Buffer) => Promise<Record<string, unknown>> } => require(`kafkajs/src/protocol/requests/${path}/response.js`);
const { AssignerProtocol } = require('kafkajs') as {
  AssignerProtocol: {
    MemberMetadata: { encode(v: { version: number; topics: string[]; userData?: Buffer }): Buffer; decode(b: Buffer): { version: number; topics: string[]; userData: Buffer } };
    MemberAssignment: { encode(v: { version: number; assignment: Record<string, number[]>; userData?: Buffer }): Buffer; decode(b: Buffer): { version: number; assignment: Record<string, number[]> } | null };
  };
};

/** kafkajs encodes the request (size prefix and v1 header included); we decode it. */
async function ours(request: KafkajsRequest): Promise<KafkaMessage> {
  const wire = (await frameRequest({ correlationId: 77, clientId: 'kafkajs-interop', request })).buffer;
  assert.equal(wire.readInt32BE(0), wire.length - 4);
  const frame = wire.subarray(4);
  const h = decodeRequestHeader(frame);
  assert.deepEqual([h.apiKey, h.apiVersion, h.correlationId, h.clientId, h.headerVersion, h.known], [request.apiKey, request.apiVersion, 77, 'kafkajs-interop', 1, true]);
  return decodeRequestBody(h.apiKey, h.apiVersion, frame, h.bodyOffset);
}

/** We encode the response; kafkajs decodes the payload after the correlation id, as its connection does. */
async function theirs(apiKey: number, version: number, path: string, body: KafkaMessage): Promise<Record<string, unknown>> {
  const wire = encodeResponse(apiKey, version, 5, body);
  assert.equal(wire.readInt32BE(4), 5);
  return res(path).decode(wire.subarray(8));
}

type Rows = Array<Record<string, unknown>>;

describe('kafka codec against kafkajs 2.2.4', () => {
  let producedRecords: Buffer | undefined;

  test('a Produce v3 request kafkajs encodes decodes with our codec, records intact', async () => {
    const body = await ours(req('produce/v3')({
      acks: -1, timeout: 30000, transactionalId: 'tx-1',
      topicData: [{ topic: 'orders', partitions: [{ partition: 2, messages: [{ key: 'k1', value: 'hello', timestamp: 1700000000000 }] }] }],
    }));
    assert.equal(body.transactionalId, 'tx-1');
    assert.equal(body.acks, -1);
    assert.equal(body.timeoutMs, 30000);
    const topics = body.topicData as Rows;
    assert.equal(topics[0]!.name, 'orders');
    const part = (topics[0]!.partitionData as Rows)[0]!;
    assert.equal(part.index, 2);
    const records = part.records as Buffer;
    assert.equal(records.readInt8(16), 2, 'record batch magic v2');
    assert.equal(records.readInt32BE(8), records.length - 12, 'batch length');
    producedRecords = records;
  });

  test('a Fetch v4 response we encode carrying that batch decodes with kafkajs to the same record', async () => {
    assert.ok(producedRecords);
    const out = await theirs(1, 4, 'fetch/v4', {
      throttleTimeMs: 3,
      responses: [{ topic: 'orders', partitions: [{ partitionIndex: 2, errorCode: 0, highWatermark: 10n, lastStableOffset: 9n, abortedTransactions: [], records: producedRecords }] }],
    });
    assert.equal(out.throttleTime, 3);
    const p = ((out.responses as Rows)[0]!.partitions as Rows)[0]!;
    assert.equal(p.partition, 2);
    assert.equal(p.highWatermark, '10');
    assert.equal(p.lastStableOffset, '9');
    const messages = p.messages as Array<{ key: Buffer; value: Buffer; timestamp: string }>;
    assert.equal(messages.length, 1);
    assert.equal(messages[0]!.key.toString(), 'k1');
    assert.equal(messages[0]!.value.toString(), 'hello');
    assert.equal(messages[0]!.timestamp, '1700000000000');
  });

  test('a Fetch v4 request kafkajs encodes decodes with our codec', async () => {
    const body = await ours(req('fetch/v4')({
      replicaId: -1, maxWaitTime: 500, minBytes: 1, maxBytes: 10485760, isolationLevel: 1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: '42', maxBytes: 1048576 }, { partition: 1, fetchOffset: '7', maxBytes: 1024 }] }],
    }));
    assert.deepEqual([body.replicaId, body.maxWaitMs, body.minBytes, body.maxBytes, body.isolationLevel], [-1, 500, 1, 10485760, 1]);
    const parts = ((body.topics as Rows)[0]!.partitions as Rows).map((p) => [p.partition, p.fetchOffset, p.partitionMaxBytes]);
    assert.deepEqual(parts, [[0, 42n, 1048576], [1, 7n, 1024]]);
    assert.equal((body.topics as Rows)[0]!.topic, 'orders');
  });

  test('Metadata v5 request and response agree with kafkajs', async () => {
    const body = await ours(req('metadata/v5')({ topics: ['a', 'b'], allowAutoTopicCreation: false }));
    assert.deepEqual((body.topics as Rows).map((t) => t.name), ['a', 'b']);
    assert.equal(body.allowAutoTopicCreation, false);
    const out = await theirs(3, 5, 'metadata/v5', {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: 'h1', port: 9092, rack: null }, { nodeId: 2, host: 'h2', port: 9093, rack: 'r2' }],
      clusterId: 'cluster-x', controllerId: 2,
      topics: [{ errorCode: 0, name: 'a', isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, replicaNodes: [1, 2], isrNodes: [1], offlineReplicas: [2] }] }],
    });
    assert.deepEqual(out.brokers, [{ nodeId: 1, host: 'h1', port: 9092, rack: null }, { nodeId: 2, host: 'h2', port: 9093, rack: 'r2' }]);
    assert.equal(out.clusterId, 'cluster-x');
    assert.equal(out.controllerId, 2);
    assert.deepEqual(out.topicMetadata, [{ topicErrorCode: 0, topic: 'a', isInternal: false, partitionMetadata: [{ partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1, 2], isr: [1], offlineReplicas: [2] }] }]);
    // Metadata v0 with an empty topic list (kafkajs's "all topics" in v0).
    const v0 = await ours(req('metadata/v0')({ topics: [] }));
    assert.deepEqual(v0.topics, []);
  });

  test('OffsetCommit v2 request kafkajs encodes decodes with our codec', async () => {
    const body = await ours(req('offsetCommit/v2')({
      groupId: 'g1', groupGenerationId: 4, memberId: 'm-1', retentionTime: -1,
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '100', metadata: null }, { partition: 3, offset: '5', metadata: 'md' }] }],
    }));
    assert.deepEqual([body.groupId, body.generationIdOrMemberEpoch, body.memberId, body.retentionTimeMs], ['g1', 4, 'm-1', -1n]);
    const parts = ((body.topics as Rows)[0]!.partitions as Rows).map((p) => [p.partitionIndex, p.committedOffset, p.committedMetadata]);
    assert.deepEqual(parts, [[0, 100n, null], [3, 5n, 'md']]);
  });

  test('JoinGroup v2 and SyncGroup v1 with consumer protocol metadata agree with kafkajs', async () => {
    const metadata = AssignerProtocol.MemberMetadata.encode({ version: 0, topics: ['orders', 'payments'], userData: Buffer.from('ud') });
    const body = await ours(req('joinGroup/v2')({
      groupId: 'g1', sessionTimeout: 30000, rebalanceTimeout: 60000, memberId: '', protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata }],
    }));
    assert.deepEqual([body.groupId, body.sessionTimeoutMs, body.rebalanceTimeoutMs, body.memberId, body.protocolType], ['g1', 30000, 60000, '', 'consumer']);
    const proto = (body.protocols as Rows)[0]!;
    assert.equal(proto.name, 'RoundRobinAssigner');
    const meta = proto.metadata as Buffer;
    assert.equal(meta.readInt16BE(0), 0);
    const sub = decodeKafkaData('ConsumerProtocolSubscription', 0, meta.subarray(2));
    assert.deepEqual(sub.topics, ['orders', 'payments']);
    assert.deepEqual(sub.userData, Buffer.from('ud'));

    const ourMeta = Buffer.concat([Buffer.from([0, 0]), encodeKafkaData('ConsumerProtocolSubscription', 0, { topics: ['x'], userData: Buffer.alloc(0) })]);
    const join = await theirs(11, 2, 'joinGroup/v2', {
      throttleTimeMs: 1, errorCode: 0, generationId: 7, protocolName: 'RoundRobinAssigner', leader: 'm-1', memberId: 'm-1',
      members: [{ memberId: 'm-1', metadata: ourMeta }],
    });
    assert.deepEqual([join.throttleTime, join.errorCode, join.generationId, join.groupProtocol, join.leaderId, join.memberId], [1, 0, 7, 'RoundRobinAssigner', 'm-1', 'm-1']);
    const member = (join.members as Rows)[0]!;
    assert.deepEqual(AssignerProtocol.MemberMetadata.decode(member.memberMetadata as Buffer).topics, ['x']);

    const assignment = Buffer.concat([Buffer.from([0, 0]), encodeKafkaData('ConsumerProtocolAssignment', 0, { assignedPartitions: [{ topic: 'orders', partitions: [0, 2] }], userData: null })]);
    const sync = await theirs(14, 1, 'syncGroup/v1', { throttleTimeMs: 0, errorCode: 0, assignment });
    assert.deepEqual(AssignerProtocol.MemberAssignment.decode(sync.memberAssignment as Buffer)?.assignment, { orders: [0, 2] });

    const syncReq = await ours(req('syncGroup/v1')({
      groupId: 'g1', generationId: 7, memberId: 'm-1',
      groupAssignment: [{ memberId: 'm-1', memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { orders: [1] } }) }],
    }));
    const a = (syncReq.assignments as Rows)[0]!;
    assert.equal(a.memberId, 'm-1');
    const decoded = decodeKafkaData('ConsumerProtocolAssignment', 0, (a.assignment as Buffer).subarray(2));
    assert.deepEqual(decoded.assignedPartitions, [{ topic: 'orders', partitions: [1] }]);
  });

  test('group coordination requests kafkajs encodes decode with our codec', async () => {
    const fc = await ours(req('findCoordinator/v1')({ coordinatorKey: 'g1', coordinatorType: 0 }));
    assert.deepEqual([fc.key, fc.keyType], ['g1', 0]);
    const hb = await ours(req('heartbeat/v1')({ groupId: 'g1', groupGenerationId: 3, memberId: 'm' }));
    assert.deepEqual([hb.groupId, hb.generationId, hb.memberId], ['g1', 3, 'm']);
    const lg = await ours(req('leaveGroup/v1')({ groupId: 'g1', memberId: 'm' }));
    assert.deepEqual([lg.groupId, lg.memberId], ['g1', 'm']);
    const of = await ours(req('offsetFetch/v3')({ groupId: 'g1', topics: [{ topic: 'orders', partitions: [{ partition: 0 }, { partition: 1 }] }] }));
    assert.equal(of.groupId, 'g1');
    assert.deepEqual(of.topics, [{ name: 'orders', partitionIndexes: [0, 1] }]);
    const dg = await ours(req('describeGroups/v1')({ groupIds: ['g1', 'g2'] }));
    assert.deepEqual(dg.groups, ['g1', 'g2']);
  });

  test('other requests kafkajs encodes decode with our codec', async () => {
    const lo = await ours(req('listOffsets/v2')({ replicaId: -1, isolationLevel: 1, topics: [{ topic: 't', partitions: [{ partition: 0, timestamp: -2 }] }] }));
    assert.deepEqual([lo.replicaId, lo.isolationLevel], [-1, 1]);
    assert.deepEqual(lo.topics, [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2n, maxNumOffsets: 1 }] }]);
    const ip = await ours(req('initProducerId/v0')({ transactionalId: null, transactionTimeout: 60000 }));
    assert.deepEqual([ip.transactionalId, ip.transactionTimeoutMs], [null, 60000]);
    const ct = await ours(req('createTopics/v2')({
      topics: [{ topic: 'new', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], validateOnly: false, timeout: 5000,
    }));
    const t = (ct.topics as Rows)[0]!;
    assert.deepEqual([t.name, t.numPartitions, t.replicationFactor], ['new', 3, 1]);
    assert.deepEqual(t.configs, [{ name: 'cleanup.policy', value: 'compact' }]);
    assert.deepEqual([ct.timeoutMs, ct.validateOnly], [5000, false]);
    const av = await ours(req('apiVersions/v2')({}));
    assert.deepEqual(av, { clientSoftwareName: '', clientSoftwareVersion: '' });
  });

  test('responses we encode decode with kafkajs: Produce, ApiVersions, FindCoordinator, ListOffsets, OffsetFetch, InitProducerId', async () => {
    const produce = await theirs(0, 3, 'produce/v3', {
      responses: [{ name: 'orders', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 41n, logAppendTimeMs: -1n }] }], throttleTimeMs: 9,
    });
    assert.deepEqual(produce, { topics: [{ topicName: 'orders', partitions: [{ partition: 2, errorCode: 0, baseOffset: '41', logAppendTime: '-1' }] }], throttleTime: 9 });

    const av = await theirs(18, 2, 'apiVersions/v2', {
      errorCode: 0, apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 1, minVersion: 0, maxVersion: 12 }], throttleTimeMs: 4,
    });
    assert.deepEqual(av.apiVersions, [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 1, minVersion: 0, maxVersion: 12 }]);
    assert.equal(av.clientSideThrottleTime, 4);

    const fc = await theirs(10, 1, 'findCoordinator/v1', { ...defaultMessage('response', 10, 1), errorMessage: null, nodeId: 3, host: 'broker-3', port: 9094 });
    assert.deepEqual(fc.coordinator, { nodeId: 3, host: 'broker-3', port: 9094 });
    assert.equal(fc.errorMessage, null);

    const lo = await theirs(2, 2, 'listOffsets/v2', {
      throttleTimeMs: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1n, offset: 1234n }] }],
    });
    assert.deepEqual(lo.responses, [{ topic: 't', partitions: [{ partition: 0, errorCode: 0, timestamp: '-1', offset: '1234' }] }]);

    const of = await theirs(9, 3, 'offsetFetch/v3', {
      throttleTimeMs: 0, errorCode: 0,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 77n, metadata: '', errorCode: 0 }] }],
    });
    assert.deepEqual(of.responses, [{ topic: 'orders', partitions: [{ partition: 1, offset: '77', metadata: '', errorCode: 0 }] }]);

    const ip = await theirs(22, 0, 'initProducerId/v0', { throttleTimeMs: 0, errorCode: 0, producerId: 4000n, producerEpoch: 2 });
    assert.deepEqual([ip.producerId, ip.producerEpoch], ['4000', 2]);
  });
});
