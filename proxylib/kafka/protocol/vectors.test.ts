// Byte vectors built by hand from the Kafka protocol guide (kafka.apache.org/protocol: request and
// response headers, classic vs compact (KIP-482) strings/arrays, tagged fields) and the schemas,
// checked in both directions: our decoder reads them, our encoder writes exactly them.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequestBody, decodeRequestHeader, decodeResponse, encodeRequest, encodeResponse, type KafkaMessage } from './index.js';

/** Hex with spaces, `|` separators and `#` comments to the end of a line. */
function hex(text: string): Buffer {
  const clean = text.replace(/#[^\n]*/g, '').replace(/[\s|]/g, '');
  assert.match(clean, /^([0-9a-f]{2})*$/, 'vector is whole bytes of hex');
  return Buffer.from(clean, 'hex');
}
/** ASCII text as hex (for readability of string contents only; lengths are written by hand). */
const a = (s: string): string => Buffer.from(s, 'ascii').toString('hex');

function checkRequest(frame: Buffer, header: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null; headerVersion: 0 | 1 | 2 }, body: KafkaMessage, expected: KafkaMessage): void {
  const h = decodeRequestHeader(frame);
  assert.deepEqual({ apiKey: h.apiKey, apiVersion: h.apiVersion, correlationId: h.correlationId, clientId: h.clientId, headerVersion: h.headerVersion }, header);
  assert.equal(h.known, true);
  const decoded = decodeRequestBody(h.apiKey, h.apiVersion, frame, h.bodyOffset);
  for (const [k, v] of Object.entries(expected)) assert.deepStrictEqual(decoded[k], v, k);
  const encoded = encodeRequest(header, body);
  assert.equal(encoded.readInt32BE(0), frame.length);
  assert.equal(encoded.subarray(4).toString('hex'), frame.toString('hex'));
}

describe('kafka codec against hand-built byte vectors', () => {
  test('request header v0 (ControlledShutdown v0) has no client id', () => {
    const frame = hex(`0007 0000 0000002a | 00000005`);
    const h = decodeRequestHeader(frame);
    assert.deepEqual(h, { apiKey: 7, apiVersion: 0, correlationId: 42, clientId: null, headerVersion: 0, bodyOffset: 8, known: true });
    assert.deepEqual(decodeRequestBody(7, 0, frame, 8), { brokerId: 5, brokerEpoch: -1n });
    checkRequest(frame, { apiKey: 7, apiVersion: 0, correlationId: 42, clientId: null, headerVersion: 0 }, { brokerId: 5 }, { brokerId: 5 });
  });

  test('request header v1 has an int16-length nullable client id', () => {
    const frame = hex(`0012 0000 00000001 0003 ${a('abc')}`); // ApiVersions v0, empty body
    assert.deepEqual(decodeRequestHeader(frame), { apiKey: 18, apiVersion: 0, correlationId: 1, clientId: 'abc', headerVersion: 1, bodyOffset: 13, known: true });
    const nullClient = hex(`0012 0001 00000002 ffff`);
    assert.equal(decodeRequestHeader(nullClient).clientId, null);
    assert.equal(decodeRequestHeader(nullClient).bodyOffset, 10);
    assert.equal(encodeRequest({ apiKey: 18, apiVersion: 1, correlationId: 2, clientId: null }, {}).subarray(4).toString('hex'), nullClient.toString('hex'));
  });

  test('request header v2 keeps the classic client id and adds a tagged field section', () => {
    const frame = hex(`0012 0003 00000001 000d ${a('adminclient-1')} 00 |
      12 ${a('apache-kafka-java')} 06 ${a('3.8.0')} 00`);
    const h = decodeRequestHeader(frame);
    assert.equal(h.headerVersion, 2);
    assert.equal(h.bodyOffset, 2 + 2 + 4 + 2 + 13 + 1);
    checkRequest(frame, { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'adminclient-1', headerVersion: 2 },
      { clientSoftwareName: 'apache-kafka-java', clientSoftwareVersion: '3.8.0' },
      { clientSoftwareName: 'apache-kafka-java', clientSoftwareVersion: '3.8.0' });
    // A header tagged field the schema does not define is skipped.
    const tagged = hex(`0012 0003 00000001 ffff 01 05 02 abcd | 01 01 00`);
    const ht = decodeRequestHeader(tagged);
    assert.equal(ht.bodyOffset, 15);
    assert.deepEqual(decodeRequestBody(18, 3, tagged, ht.bodyOffset), { clientSoftwareName: '', clientSoftwareVersion: '' });
  });

  test('unknown api keys and versions are read as a v1 header and marked unknown', () => {
    const frame = hex(`03e7 0005 00000009 0001 ${a('x')} dead beef`);
    assert.deepEqual(decodeRequestHeader(frame), { apiKey: 999, apiVersion: 5, correlationId: 9, clientId: 'x', headerVersion: 1, bodyOffset: 11, known: false });
    assert.equal(decodeRequestHeader(hex(`0000 0063 00000009 ffff`)).known, false); // Produce v99
  });

  test('ApiVersions v0 request and response', () => {
    checkRequest(hex(`0012 0000 00000003 0002 ${a('c1')}`), { apiKey: 18, apiVersion: 0, correlationId: 3, clientId: 'c1', headerVersion: 1 }, {}, {});
    const response = hex(`00000003 | 0000 | 00000002 | 0000 0000 0009 | 0012 0000 0003`);
    const { correlationId, body } = decodeResponse(18, 0, response);
    assert.equal(correlationId, 3);
    assert.equal(body.errorCode, 0);
    assert.deepEqual(body.apiKeys, [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }]);
    assert.equal(body.throttleTimeMs, 0);
    assert.equal(encodeResponse(18, 0, 3, body).subarray(4).toString('hex'), response.toString('hex'));
  });

  test('ApiVersions v3 response: flexible body behind a v0 response header (KIP-511), tagged fields', () => {
    const response = hex(`00000004 |                   # correlation id, header v0: no tagged fields
      0000 |                                      # error code
      03 | 0000 0000 0009 00 | 0012 0000 0003 00 | # compact array of 2, each with empty tagged fields
      00000064 |                                  # throttle 100
      02 | 01 08 0000000000000005 | 03 01 01      # tags 1 (finalizedFeaturesEpoch=5), 3 (zkMigrationReady)`);
    const { correlationId, body } = decodeResponse(18, 3, response);
    assert.equal(correlationId, 4);
    assert.deepEqual(body.apiKeys, [{ apiKey: 0, minVersion: 0, maxVersion: 9 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }]);
    assert.equal(body.throttleTimeMs, 100);
    assert.equal(body.finalizedFeaturesEpoch, 5n);
    assert.equal(body.zkMigrationReady, true);
    assert.deepEqual(body.supportedFeatures, []);
    assert.equal(encodeResponse(18, 3, 4, body).subarray(4).toString('hex'), response.toString('hex'));
  });

  test('a flexible response other than ApiVersions has a v1 header with tagged fields', () => {
    // Metadata v12 response: correlation id, header tagged fields, then throttle, no brokers, null
    // cluster id, controller 1, no topics, no tagged fields.
    const response = hex(`00000005 00 | 00000000 | 01 | 00 | 00000001 | 01 | 00`);
    const { correlationId, body } = decodeResponse(3, 12, response);
    assert.equal(correlationId, 5);
    assert.equal(body.clusterId, null);
    assert.equal(body.controllerId, 1);
    assert.equal(encodeResponse(3, 12, 5, body).subarray(4).toString('hex'), response.toString('hex'));
  });

  test('Metadata v0 request: classic array of classic strings', () => {
    checkRequest(hex(`0003 0000 00000007 0002 ${a('c1')} | 00000002 0002 ${a('a1')} 0002 ${a('b2')}`),
      { apiKey: 3, apiVersion: 0, correlationId: 7, clientId: 'c1', headerVersion: 1 },
      { topics: [{ name: 'a1' }, { name: 'b2' }] },
      { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'a1' }, { topicId: '00000000-0000-0000-0000-000000000000', name: 'b2' }] });
  });

  test('Metadata v12 request: compact arrays, topic ids, nullable compact names, null topic list', () => {
    const id = '0123456789abcdef0011223344556677';
    const frame = hex(`0003 000c 00000008 0002 ${a('c1')} 00 |
      03 |                                          # 2 topics
      00000000000000000000000000000000 03 ${a('a1')} 00 |   # zero id, name "a1", no tags
      ${id} 00 00 |                                 # id, null name, no tags
      01 00 00                                      # allowAutoTopicCreation, includeTopicAuthorizedOperations, no tags`);
    checkRequest(frame, { apiKey: 3, apiVersion: 12, correlationId: 8, clientId: 'c1', headerVersion: 2 },
      { topics: [{ name: 'a1' }, { topicId: '01234567-89ab-cdef-0011-223344556677', name: null }], allowAutoTopicCreation: true },
      { topics: [{ topicId: '00000000-0000-0000-0000-000000000000', name: 'a1' }, { topicId: '01234567-89ab-cdef-0011-223344556677', name: null }], includeTopicAuthorizedOperations: false });
    const all = hex(`0003 000c 00000008 0002 ${a('c1')} 00 | 00 | 01 00 00`);
    checkRequest(all, { apiKey: 3, apiVersion: 12, correlationId: 8, clientId: 'c1', headerVersion: 2 }, { topics: null }, { topics: null });
  });

  test('Produce v3 request: nullable transactional id, int32-length records', () => {
    const records = Buffer.from('00010203040506070809', 'hex');
    const frame = hex(`0000 0003 00000009 0002 ${a('c1')} |
      ffff | ffff | 00007530 |                     # null transactional id, acks -1, timeout 30000
      00000001 0005 ${a('topic')} |                # 1 topic
      00000001 00000000 0000000a 00010203040506070809  # 1 partition: index 0, 10 bytes of records`);
    checkRequest(frame, { apiKey: 0, apiVersion: 3, correlationId: 9, clientId: 'c1', headerVersion: 1 },
      { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'topic', partitionData: [{ index: 0, records }] }] },
      { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'topic', partitionData: [{ index: 0, records }] }] });
  });

  test('Produce v9 request: compact strings and records, tagged sections at every level', () => {
    const records = Buffer.from('00010203040506070809', 'hex');
    const frame = hex(`0000 0009 0000000a 0002 ${a('c1')} 00 |
      05 ${a('txn1')} | 0001 | 00007530 |          # transactional id "txn1", acks 1, timeout 30000
      02 06 ${a('topic')} |                         # 1 topic
      02 00000000 0b 00010203040506070809 00 |      # 1 partition, records (10+1), partition tags
      00 | 00                                       # topic tags, request tags`);
    checkRequest(frame, { apiKey: 0, apiVersion: 9, correlationId: 10, clientId: 'c1', headerVersion: 2 },
      { transactionalId: 'txn1', acks: 1, timeoutMs: 30000, topicData: [{ name: 'topic', partitionData: [{ index: 0, records }] }] },
      { transactionalId: 'txn1', acks: 1, timeoutMs: 30000, topicData: [{ name: 'topic', partitionData: [{ index: 0, records }] }] });
  });

  test('Fetch v4 request: isolation level, topic names', () => {
    const frame = hex(`0001 0004 0000000b 0002 ${a('c1')} |
      ffffffff | 000001f4 | 00000001 | 00100000 | 00 |   # replica -1, maxWait 500, minBytes 1, maxBytes 1 MiB, read_uncommitted
      00000001 0005 ${a('topic')} |
      00000001 00000000 0000000000000064 00100000        # partition 0, offset 100, partition max 1 MiB`);
    const body = {
      replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1048576, isolationLevel: 0,
      topics: [{ topic: 'topic', partitions: [{ partition: 0, fetchOffset: 100n, partitionMaxBytes: 1048576 }] }],
    };
    checkRequest(frame, { apiKey: 1, apiVersion: 4, correlationId: 11, clientId: 'c1', headerVersion: 1 }, body, {
      replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1048576, isolationLevel: 0,
      topics: [{ topic: 'topic', topicId: '00000000-0000-0000-0000-000000000000', partitions: [{
        partition: 0, currentLeaderEpoch: -1, fetchOffset: 100n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1048576,
        replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
      }] }],
    });
  });

  test('Fetch v13 request: topic ids instead of names, sessions, forgotten topics, rack', () => {
    const id = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
    const frame = hex(`0001 000d 0000000c 0002 ${a('c1')} 00 |
      ffffffff | 000001f4 | 00000001 | 00100000 | 01 | 00000000 | ffffffff |  # ..., read_committed, session 0, epoch -1
      02 ${id} |                                     # 1 topic by id
      02 00000000 ffffffff 0000000000000064 ffffffff ffffffffffffffff 00100000 00 | # partition 0
      00 |                                           # topic tags
      02 ${id} 02 00000003 00 |                      # forgotten: that topic, partition 3
      03 ${a('r1')} |                                # rack "r1"
      00                                             # request tags`);
    const topicId = 'f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f';
    checkRequest(frame, { apiKey: 1, apiVersion: 13, correlationId: 12, clientId: 'c1', headerVersion: 2 }, {
      replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1048576, isolationLevel: 1, sessionId: 0, sessionEpoch: -1,
      topics: [{ topicId, partitions: [{ partition: 0, fetchOffset: 100n, partitionMaxBytes: 1048576 }] }],
      forgottenTopicsData: [{ topicId, partitions: [3] }], rackId: 'r1',
    }, {
      isolationLevel: 1, clusterId: null, rackId: 'r1',
      forgottenTopicsData: [{ topic: '', topicId, partitions: [3] }],
    });
  });
});
