import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeResponse, defaultMessage, encodeResponse, type KafkaMessage } from '../protocol/index.js';
import { DEFAULT_TOPIC_NAME_CACHE_SIZE, TopicNameCache, ZERO_TOPIC_ID } from './index.js';

const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** A response as the proxy sees it from a broker: encoded and decoded by the codec. */
function fromBroker(apiKey: number, apiVersion: number, fields: KafkaMessage): KafkaMessage {
  const frame = encodeResponse(apiKey, apiVersion, 1, { ...defaultMessage('response', apiKey, apiVersion), ...fields });
  return decodeResponse(apiKey, apiVersion, frame.subarray(4)).body;
}

describe('TopicNameCache', () => {
  test('learns topic ids from Metadata v10+, CreateTopics v7+ and DescribeTopicPartitions responses', () => {
    const cache = new TopicNameCache();
    cache.learnFromResponse(3, 12, fromBroker(3, 12, {
      brokers: [{ nodeId: 1, host: 'b1', port: 9092, rack: null }],
      topics: [{ errorCode: 0, name: 'm', topicId: id(1), isInternal: false, partitions: [] }],
    }));
    cache.learnFromResponse(19, 7, fromBroker(19, 7, { topics: [{ name: 'c', topicId: id(2), errorCode: 0 }] }));
    cache.learnFromResponse(75, 0, fromBroker(75, 0, { topics: [{ errorCode: 0, name: 'd', topicId: id(3), partitions: [] }] }));
    assert.equal(cache.nameOf(id(1)), 'm');
    assert.equal(cache.nameOf(id(2)), 'c');
    assert.equal(cache.nameOf(id(3)), 'd');
    assert.deepEqual(cache.knownBrokers(), [{ nodeId: 1, host: 'b1', port: 9092, rack: null }]);
  });

  test('older versions and other APIs teach nothing', () => {
    const cache = new TopicNameCache();
    cache.learnFromResponse(3, 9, fromBroker(3, 9, { topics: [{ errorCode: 0, name: 'm', isInternal: false, partitions: [] }] }));
    cache.learnFromResponse(19, 6, fromBroker(19, 6, { topics: [{ name: 'c', errorCode: 0 }] }));
    cache.learnFromResponse(1, 13, fromBroker(1, 13, { responses: [{ topicId: id(9), partitions: [] }] }));
    assert.equal(cache.size, 0);
  });

  test('never learns the zero uuid or a null name', () => {
    const cache = new TopicNameCache();
    cache.learnFromResponse(3, 12, fromBroker(3, 12, {
      topics: [
        { errorCode: 3, name: 'missing', topicId: ZERO_TOPIC_ID, partitions: [] },
        { errorCode: 100, name: null, topicId: id(5), partitions: [] },
      ],
    }));
    assert.equal(cache.size, 0);
    assert.equal(cache.nameOf(ZERO_TOPIC_ID), undefined);
  });

  test('is a bounded LRU: the least recently used id goes first', () => {
    const cache = new TopicNameCache(3);
    cache.learn(id(1), 'a');
    cache.learn(id(2), 'b');
    cache.learn(id(3), 'c');
    assert.equal(cache.nameOf(id(1)), 'a'); // 2 is now the oldest
    cache.learn(id(4), 'd');
    assert.equal(cache.size, 3);
    assert.equal(cache.nameOf(id(2)), undefined);
    assert.deepEqual([cache.nameOf(id(1)), cache.nameOf(id(3)), cache.nameOf(id(4))], ['a', 'c', 'd']);
    cache.learn(id(3), 'c2'); // a topic recreated under a new name for the same id keeps one entry
    assert.equal(cache.size, 3);
    assert.equal(cache.nameOf(id(3)), 'c2');
  });

  test('defaults to 100k entries and stays within it', () => {
    const cache = new TopicNameCache();
    assert.equal(cache.maxEntries, DEFAULT_TOPIC_NAME_CACHE_SIZE);
    assert.equal(DEFAULT_TOPIC_NAME_CACHE_SIZE, 100_000);
    for (let i = 1; i <= DEFAULT_TOPIC_NAME_CACHE_SIZE + 10; i++) cache.learn(id(i), `t${i}`);
    assert.equal(cache.size, DEFAULT_TOPIC_NAME_CACHE_SIZE);
    assert.equal(cache.nameOf(id(1)), undefined);
    assert.equal(cache.nameOf(id(DEFAULT_TOPIC_NAME_CACHE_SIZE + 10)), `t${DEFAULT_TOPIC_NAME_CACHE_SIZE + 10}`);
  });

  test('rejects a size that is not a positive integer', () => {
    assert.throws(() => new TopicNameCache(0), RangeError);
    assert.throws(() => new TopicNameCache(1.5), RangeError);
  });
});
