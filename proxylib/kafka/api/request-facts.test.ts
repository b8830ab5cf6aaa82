import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequestBody, decodeRequestHeader, defaultMessage, encodeRequest, type KafkaMessage, type KafkaRequestHeader } from '../protocol/index.js';
import { opaqueRequestFacts, requestFacts, TopicNameCache, ZERO_TOPIC_ID } from './index.js';

const ID_A = '0a0a0a0a-0000-4000-8000-00000000000a';
const ID_B = '0b0b0b0b-0000-4000-8000-00000000000b';

/** A request body as the proxy sees it: defaults overlaid with `fields`, encoded and decoded again. */
function wire(apiKey: number, apiVersion: number, fields: KafkaMessage): { h: KafkaRequestHeader; body: KafkaMessage } {
  const frame = encodeRequest({ apiKey, apiVersion, correlationId: 7, clientId: 'test' }, { ...defaultMessage('request', apiKey, apiVersion), ...fields }).subarray(4);
  const h = decodeRequestHeader(frame);
  return { h, body: decodeRequestBody(apiKey, apiVersion, frame, h.bodyOffset) };
}

function factsOf(apiKey: number, apiVersion: number, fields: KafkaMessage, cache = new TopicNameCache()) {
  const { h, body } = wire(apiKey, apiVersion, fields);
  return requestFacts(h, body, cache);
}

describe('requestFacts', () => {
  test('a Produce request names its topics and transactional id, and acks=0 expects no response', () => {
    const topicData = [
      { name: 'orders', partitionData: [{ index: 0, records: null }] },
      { name: 'audit', partitionData: [{ index: 1, records: null }] },
    ];
    const f = factsOf(0, 9, { acks: -1, transactionalId: 'tx-1', topicData });
    assert.deepEqual(f.topics, ['orders', 'audit']);
    assert.deepEqual(f.transactionalIds, ['tx-1']);
    assert.equal(f.expectsResponse, true);
    const fireAndForget = factsOf(0, 3, { acks: 0, topicData });
    assert.equal(fireAndForget.expectsResponse, false);
    assert.deepEqual(fireAndForget.transactionalIds, []);
  });

  test('a Metadata request with a null topic array is for all topics, and so is an empty v0 array', () => {
    assert.equal(factsOf(3, 12, { topics: null }).topics, 'all');
    assert.equal(factsOf(3, 1, { topics: null }).topics, 'all');
    assert.equal(factsOf(3, 0, { topics: [] }).topics, 'all');
    assert.deepEqual(factsOf(3, 1, { topics: [] }).topics, []);
    assert.deepEqual(factsOf(3, 4, { topics: [{ name: 'a' }, { name: 'b' }] }).topics, ['a', 'b']);
  });

  test('a Metadata v12 request by topic id is named through the cache; unknown ids are listed unresolved', () => {
    const cache = new TopicNameCache();
    cache.learn(ID_A, 'known');
    const f = factsOf(3, 12, { topics: [{ name: null, topicId: ID_A }, { name: null, topicId: ID_B }] }, cache);
    assert.deepEqual(f.topics, ['known']);
    assert.deepEqual(f.unresolvedTopicIds, [ID_B]);
    assert.deepEqual(factsOf(3, 12, { topics: [{ name: 'byname', topicId: ZERO_TOPIC_ID }] }, cache).topics, ['byname']);
  });

  test('a Metadata v12 request with any topic id is about its ids alone, as the broker answers it: a name beside an id is ignored', () => {
    // { name: allowed, topicId: <id of secret> } gets the metadata of `secret` from a broker
    // (KafkaApis.handleTopicMetadataRequest ignores names once an id is present).
    const cache = new TopicNameCache();
    cache.learn(ID_A, 'secret');
    const f = factsOf(3, 12, { topics: [{ name: 'allowed', topicId: ID_A }] }, cache);
    assert.deepEqual(f.topics, ['secret']);
    const unknown = factsOf(3, 12, { topics: [{ name: 'allowed', topicId: ID_B }, { name: 'other', topicId: ZERO_TOPIC_ID }] }, new TopicNameCache());
    assert.deepEqual(unknown.topics, []);
    assert.deepEqual(unknown.unresolvedTopicIds, [ID_B]);
  });

  test('Fetch names topics up to v12 and topic ids from v13; forgotten topics are not facts', () => {
    const partitions = [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1024 }];
    const v12 = factsOf(1, 12, { topics: [{ topic: 'events', partitions }], forgottenTopicsData: [{ topic: 'old', partitions: [0] }] });
    assert.deepEqual(v12.topics, ['events']);
    const cache = new TopicNameCache();
    cache.learn(ID_A, 'events');
    const v13 = factsOf(1, 13, { topics: [{ topicId: ID_A, partitions }, { topicId: ID_B, partitions }] }, cache);
    assert.deepEqual(v13.topics, ['events']);
    assert.deepEqual(v13.unresolvedTopicIds, [ID_B]);
  });

  test('a zero topic id is never resolved', () => {
    const cache = new TopicNameCache();
    cache.learn(ZERO_TOPIC_ID, 'nope');
    const f = factsOf(1, 13, { topics: [{ topicId: ZERO_TOPIC_ID, partitions: [] }] }, cache);
    assert.deepEqual(f.topics, []);
    assert.deepEqual(f.unresolvedTopicIds, [ZERO_TOPIC_ID]);
  });

  test('FindCoordinator keys are groups for key type 0 and transactional ids for key type 1, batched from v4', () => {
    assert.deepEqual(factsOf(10, 0, { key: 'g0' }).groups, ['g0']);
    assert.deepEqual(factsOf(10, 3, { key: 'g3', keyType: 0 }).groups, ['g3']);
    const txn = factsOf(10, 3, { key: 't3', keyType: 1 });
    assert.deepEqual(txn.groups, []);
    assert.deepEqual(txn.transactionalIds, ['t3']);
    assert.deepEqual(factsOf(10, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2'] }).groups, ['g1', 'g2']);
    assert.deepEqual(factsOf(10, 6, { keyType: 1, coordinatorKeys: ['t1', 't2'] }).transactionalIds, ['t1', 't2']);
  });

  test('FindCoordinator keys of a share type or a type the schema set does not know are judged as groups', () => {
    assert.deepEqual(factsOf(10, 6, { keyType: 2, coordinatorKeys: ['s:1'] }).groups, ['s:1']);
    assert.deepEqual(factsOf(10, 3, { key: 'secret', keyType: 7 }).groups, ['secret']);
    assert.deepEqual(factsOf(10, 4, { keyType: 9, coordinatorKeys: ['secret'] }).groups, ['secret']);
  });

  test('config resources: TOPIC resources are topics, GROUP resources are groups, the rest is cluster level', () => {
    const resources = [
      { resourceType: 2, resourceName: 'orders', configurationKeys: null },
      { resourceType: 32, resourceName: 'billing', configurationKeys: null },
      { resourceType: 4, resourceName: '1', configurationKeys: null },
      { resourceType: 8, resourceName: '1', configurationKeys: null },
      { resourceType: 16, resourceName: 'metrics', configurationKeys: null },
    ];
    const f = factsOf(32, 4, { resources });
    assert.deepEqual(f.topics, ['orders']);
    assert.deepEqual(f.groups, ['billing']);
    const alter = factsOf(44, 1, { resources: resources.map(({ resourceType, resourceName }) => ({ resourceType, resourceName, configs: [] })) });
    assert.deepEqual(alter.topics, ['orders']);
    assert.deepEqual(alter.groups, ['billing']);
    const legacy = factsOf(33, 0, { resources: resources.map(({ resourceType, resourceName }) => ({ resourceType, resourceName, configs: [] })) });
    assert.deepEqual(legacy.topics, ['orders']);
  });

  test('OffsetFetch names one group up to v7 and a batch of groups from v8; null topics are all topics', () => {
    const v7 = factsOf(9, 7, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] });
    assert.deepEqual([v7.groups, v7.topics], [['g'], ['t']]);
    assert.equal(factsOf(9, 2, { groupId: 'g', topics: null }).topics, 'all');
    const v8 = factsOf(9, 8, { groups: [{ groupId: 'g1', topics: [{ name: 't1', partitionIndexes: [0] }] }, { groupId: 'g2', topics: [{ name: 't1', partitionIndexes: [1] }] }] });
    assert.deepEqual([v8.groups, v8.topics], [['g1', 'g2'], ['t1']]);
    assert.equal(factsOf(9, 9, { groups: [{ groupId: 'g1', topics: null }] }).topics, 'all');
  });

  test('the classic group APIs name their group', () => {
    for (const [key, version] of [[11, 9], [12, 4], [13, 5], [14, 5], [11, 0]] as const) {
      assert.deepEqual(factsOf(key, version, { groupId: 'consumers' }).groups, ['consumers'], `api ${key} v${version}`);
    }
    assert.deepEqual(factsOf(15, 5, { groups: ['a', 'b'] }).groups, ['a', 'b']);
    assert.deepEqual(factsOf(42, 2, { groupsNames: ['a'] }).groups, ['a']);
  });

  test('DeleteTopics names topics up to v5 and a name or an id per entry from v6', () => {
    assert.deepEqual(factsOf(20, 5, { topicNames: ['x', 'y'] }).topics, ['x', 'y']);
    const f = factsOf(20, 6, { topics: [{ name: 'x', topicId: ZERO_TOPIC_ID }, { name: null, topicId: ID_A }] });
    assert.deepEqual([f.topics, f.unresolvedTopicIds], [['x'], [ID_A]]);
    // An allowed name cannot carry another topic's id past the rules: both are facts.
    const cache = new TopicNameCache();
    cache.learnFromResponse(3, 12, { topics: [{ name: 'secret', topicId: ID_B, errorCode: 0 }] });
    assert.equal(cache.nameOf(ID_B), 'secret', 'the cache learned the id');
    const both = factsOf(20, 6, { topics: [{ name: 'x', topicId: ID_B }, { name: 'y', topicId: ID_A }] }, cache);
    assert.deepEqual([both.topics, both.unresolvedTopicIds], [['x', 'secret', 'y'], [ID_A]]);
  });

  test('AddPartitionsToTxn names one transaction up to v3 and a batch from v4', () => {
    const v3 = factsOf(24, 3, { v3AndBelowTransactionalId: 'tx', v3AndBelowTopics: [{ name: 't', partitions: [0] }] });
    assert.deepEqual([v3.transactionalIds, v3.topics], [['tx'], ['t']]);
    const v4 = factsOf(24, 4, { transactions: [{ transactionalId: 'a', topics: [{ name: 't1', partitions: [0] }] }, { transactionalId: 'b', topics: [{ name: 't2', partitions: [0] }] }] });
    assert.deepEqual([v4.transactionalIds, v4.topics], [['a', 'b'], ['t1', 't2']]);
  });

  test('transactional APIs name their transactional id and group', () => {
    const f = factsOf(28, 3, { transactionalId: 'tx', groupId: 'g', topics: [{ name: 't', partitions: [] }] });
    assert.deepEqual([f.transactionalIds, f.groups, f.topics], [['tx'], ['g'], ['t']]);
    assert.deepEqual(factsOf(22, 4, { transactionalId: null }).transactionalIds, []);
    assert.deepEqual(factsOf(22, 4, { transactionalId: 'tx' }).transactionalIds, ['tx']);
    assert.deepEqual(factsOf(26, 3, { transactionalId: 'tx' }).transactionalIds, ['tx']);
  });

  test('requests for every topic of a kind are all topics: DescribeLogDirs null, ElectLeaders null, DescribeTopicPartitions empty', () => {
    assert.equal(factsOf(35, 4, { topics: null }).topics, 'all');
    assert.equal(factsOf(43, 2, { topicPartitions: null }).topics, 'all');
    assert.equal(factsOf(75, 0, { topics: [] }).topics, 'all');
    assert.deepEqual(factsOf(75, 0, { topics: [{ name: 'x' }] }).topics, ['x']);
  });

  test('a topic named twice is listed once', () => {
    const f = factsOf(2, 5, { topics: [{ name: 'a', partitions: [] }, { name: 'a', partitions: [] }] });
    assert.deepEqual(f.topics, ['a']);
  });

  test('APIs that name nothing give empty facts that expect a response', () => {
    assert.deepEqual(factsOf(18, 3, {}), opaqueRequestFacts());
    assert.deepEqual(factsOf(60, 1, {}), opaqueRequestFacts());
    assert.deepEqual(opaqueRequestFacts(), { topics: [], unresolvedTopicIds: [], groups: [], transactionalIds: [], expectsResponse: true });
  });
});
