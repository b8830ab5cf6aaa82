// An independent check of requestFacts on real client bytes: kafkajs 2.2.4's own request encoders
// (node_modules/kafkajs/src/protocol/requests/<api>/v<N>/request.js, CommonJS) build the frames, the
// codec decodes them, and requestFacts must name what the client asked for.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decodeRequestBody, decodeRequestHeader } from '../protocol/index.js';
import { requestFacts, TopicNameCache, type KafkaRequestFacts } from './index.js';

const require = createRequire(import.meta.url);
const kafkajsSrc = join(dirname(require.resolve('kafkajs/package.json')), 'src');
type Encodable = { apiKey: number; apiVersion: number; encode(): Promise<unknown> };
const frameOf = require(join(kafkajsSrc, 'protocol/request.js')) as (r: { correlationId: number; clientId: string; request: Encodable }) => Promise<{ buffer: Buffer }>;

async function factsOf(api: string, version: number, args: Record<string, unknown>): Promise<KafkaRequestFacts & { clientId: string | null; correlationId: number }> {
  const build = require(join(kafkajsSrc, 'protocol/requests', api, `v${version}`, 'request.js')) as (a: Record<string, unknown>) => Encodable;
  const request = build(args);
  const frame = (await frameOf({ correlationId: 42, clientId: 'kafkajs-app', request })).buffer.subarray(4);
  const header = decodeRequestHeader(frame);
  assert.ok(header.known, `${api} v${version} is a known request`);
  const body = decodeRequestBody(header.apiKey, header.apiVersion, frame, header.bodyOffset);
  return { ...requestFacts(header, body, new TopicNameCache()), clientId: header.clientId, correlationId: header.correlationId };
}

const messages = [{ key: 'k', value: 'v' }];

describe('requestFacts on requests encoded by kafkajs 2.2.4', () => {
  test('Produce v0-v7: the topics, the transactional id, and acks=0 expecting no response', async () => {
    for (let v = 0; v <= 7; v++) {
      const topicData = [
        { topic: 'orders', partitions: [{ partition: 0, messages }] },
        { topic: 'audit', partitions: [{ partition: 1, messages }] },
      ];
      const f = await factsOf('produce', v, { acks: -1, timeout: 1000, topicData, ...(v >= 3 ? { transactionalId: 'tx-1' } : {}) });
      assert.deepEqual(f.topics, ['orders', 'audit'], `v${v}`);
      assert.deepEqual(f.transactionalIds, v >= 3 ? ['tx-1'] : [], `v${v}`);
      assert.equal(f.expectsResponse, true);
      assert.equal((await factsOf('produce', v, { acks: 0, timeout: 1000, topicData })).expectsResponse, false, `v${v} acks=0`);
      assert.deepEqual([f.clientId, f.correlationId], ['kafkajs-app', 42]);
    }
  });

  test('Fetch v0-v11: the fetched topics, not the forgotten ones', async () => {
    for (let v = 0; v <= 11; v++) {
      const partitions = [{ partition: 0, fetchOffset: '0', maxBytes: 1024 }];
      const f = await factsOf('fetch', v, {
        replicaId: -1, maxWaitTime: 100, minBytes: 1, maxBytes: 1 << 20,
        topics: [{ topic: 'events', partitions }, { topic: 'clicks', partitions }],
        forgottenTopics: [{ topic: 'gone', partitions: [0] }],
      });
      assert.deepEqual(f.topics, ['events', 'clicks'], `v${v}`);
    }
  });

  test('Metadata v0-v6: named topics, and v1+ with no topic list is a request for all topics', async () => {
    for (let v = 0; v <= 6; v++) {
      assert.deepEqual((await factsOf('metadata', v, { topics: ['a', 'b'] })).topics, ['a', 'b'], `v${v}`);
    }
    // kafkajs asks for every topic with topics [] (admin.listTopics, cluster metadata refresh): an
    // empty array in v0, a null one from v1.
    assert.equal((await factsOf('metadata', 0, { topics: [] })).topics, 'all');
    assert.equal((await factsOf('metadata', 4, { topics: [] })).topics, 'all');
  });

  test('ListOffsets, OffsetCommit, OffsetFetch: topics and the group', async () => {
    for (const v of [0, 1, 2, 3]) {
      const f = await factsOf('listOffsets', v, { replicaId: -1, isolationLevel: 1, topics: [{ topic: 't', partitions: [{ partition: 0, timestamp: -1 }] }] });
      assert.deepEqual(f.topics, ['t'], `listOffsets v${v}`);
    }
    for (const v of [0, 1, 2, 3, 4, 5]) {
      const f = await factsOf('offsetCommit', v, {
        groupId: 'g', groupGenerationId: 1, memberId: 'm', retentionTime: -1,
        topics: [{ topic: 't', partitions: [{ partition: 0, offset: '5' }] }],
      });
      assert.deepEqual([f.groups, f.topics], [['g'], ['t']], `offsetCommit v${v}`);
    }
    for (const v of [1, 2, 3, 4]) {
      const f = await factsOf('offsetFetch', v, { groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 0 }] }] });
      assert.deepEqual([f.groups, f.topics], [['g'], ['t']], `offsetFetch v${v}`);
    }
  });

  test('FindCoordinator v0-v2: group keys are groups, transaction keys transactional ids', async () => {
    assert.deepEqual((await factsOf('findCoordinator', 0, { groupId: 'g' })).groups, ['g']);
    for (const v of [1, 2]) {
      assert.deepEqual((await factsOf('findCoordinator', v, { coordinatorKey: 'g', coordinatorType: 0 })).groups, ['g'], `v${v}`);
      assert.deepEqual((await factsOf('findCoordinator', v, { coordinatorKey: 'tx', coordinatorType: 1 })).transactionalIds, ['tx'], `v${v}`);
    }
  });

  test('JoinGroup, SyncGroup, Heartbeat, LeaveGroup: the group', async () => {
    const join = { groupId: 'g', sessionTimeout: 10000, rebalanceTimeout: 10000, memberId: '', protocolType: 'consumer', groupProtocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }] };
    for (const v of [0, 1, 2, 3, 4, 5]) assert.deepEqual((await factsOf('joinGroup', v, join)).groups, ['g'], `joinGroup v${v}`);
    for (const v of [0, 1, 2, 3]) {
      assert.deepEqual((await factsOf('syncGroup', v, { groupId: 'g', generationId: 1, memberId: 'm', groupAssignment: [] })).groups, ['g'], `syncGroup v${v}`);
      assert.deepEqual((await factsOf('heartbeat', v, { groupId: 'g', groupGenerationId: 1, memberId: 'm' })).groups, ['g'], `heartbeat v${v}`);
      const leave = v >= 3 ? { groupId: 'g', members: [{ memberId: 'm', groupInstanceId: null }] } : { groupId: 'g', memberId: 'm' };
      assert.deepEqual((await factsOf('leaveGroup', v, leave)).groups, ['g'], `leaveGroup v${v}`);
    }
  });

  test('admin requests: CreateTopics, DeleteTopics, DescribeConfigs name their topics', async () => {
    for (const v of [0, 1, 2, 3]) {
      const f = await factsOf('createTopics', v, { topics: [{ topic: 'new', numPartitions: 1, replicationFactor: 1 }], timeout: 1000, validateOnly: false });
      assert.deepEqual(f.topics, ['new'], `createTopics v${v}`);
    }
    for (const v of [0, 1]) assert.deepEqual((await factsOf('deleteTopics', v, { topics: ['old'], timeout: 1000 })).topics, ['old'], `deleteTopics v${v}`);
    for (const v of [0, 1, 2]) {
      const f = await factsOf('describeConfigs', v, { resources: [{ type: 2, name: 'cfg-topic' }, { type: 4, name: '1' }], includeSynonyms: false });
      assert.deepEqual([f.topics, f.groups], [['cfg-topic'], []], `describeConfigs v${v}`);
    }
  });

  test('transactions: InitProducerId, AddPartitionsToTxn, TxnOffsetCommit', async () => {
    for (const v of [0, 1]) {
      assert.deepEqual((await factsOf('initProducerId', v, { transactionalId: 'tx', transactionTimeout: 1000 })).transactionalIds, ['tx'], `initProducerId v${v}`);
      const add = await factsOf('addPartitionsToTxn', v, { transactionalId: 'tx', producerId: '1', producerEpoch: 0, topics: [{ topic: 't', partitions: [0] }] });
      assert.deepEqual([add.transactionalIds, add.topics], [['tx'], ['t']], `addPartitionsToTxn v${v}`);
      const commit = await factsOf('txnOffsetCommit', v, { transactionalId: 'tx', groupId: 'g', producerId: '1', producerEpoch: 0, topics: [{ topic: 't', partitions: [{ partition: 0, offset: '1' }] }] });
      assert.deepEqual([commit.transactionalIds, commit.groups, commit.topics], [['tx'], ['g'], ['t']], `txnOffsetCommit v${v}`);
    }
  });
});
