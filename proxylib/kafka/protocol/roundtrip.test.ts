import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponse,
  defaultMessage,
  encodeRequest,
  encodeResponse,
  KAFKA_APIS,
  sampleMessage,
  decodeKafkaData,
  encodeKafkaData,
  defaultKafkaData,
  type KafkaMessage,
} from './index.js';

function roundTrip(kind: 'request' | 'response', apiKey: number, version: number, body: KafkaMessage): KafkaMessage {
  if (kind === 'request') {
    const bytes = encodeRequest({ apiKey, apiVersion: version, correlationId: 99, clientId: 'rt' }, body);
    assert.equal(bytes.readInt32BE(0), bytes.length - 4);
    const frame = bytes.subarray(4);
    const h = decodeRequestHeader(frame);
    assert.deepEqual([h.apiKey, h.apiVersion, h.correlationId, h.known], [apiKey, version, 99, true]);
    assert.equal(h.clientId, h.headerVersion === 0 ? null : 'rt');
    return decodeRequestBody(apiKey, version, frame, h.bodyOffset);
  }
  const bytes = encodeResponse(apiKey, version, 99, body);
  const r = decodeResponse(apiKey, version, bytes.subarray(4));
  assert.equal(r.correlationId, 99);
  return r.body;
}

describe('kafka codec round trip', () => {
  test('every api key, version and kind encodes a populated message and decodes it back equal', () => {
    let cases = 0;
    for (const [apiKey, info] of KAFKA_APIS) {
      for (let v = info.minVersion; v <= info.maxVersion; v++) {
        for (const kind of ['request', 'response'] as const) {
          const body = sampleMessage(kind, apiKey, v, apiKey * 1000 + v);
          try {
            assert.deepStrictEqual(roundTrip(kind, apiKey, v, body), body);
          } catch (err) {
            throw new Error(`${info.name} v${v} ${kind}: ${(err as Error).message}`);
          }
          cases++;
        }
      }
    }
    assert.ok(cases > 600, `${cases} cases`);
  });

  test('every api key, version and kind round-trips its default message', () => {
    for (const [apiKey, info] of KAFKA_APIS) {
      for (let v = info.minVersion; v <= info.maxVersion; v++) {
        for (const kind of ['request', 'response'] as const) {
          const body = defaultMessage(kind, apiKey, v);
          assert.deepStrictEqual(roundTrip(kind, apiKey, v, body), body, `${info.name} v${v} ${kind}`);
        }
      }
    }
  });

  test('a decoded message has every schema field, absent ones at their defaults', () => {
    const body = roundTrip('request', 1, 4, { ...defaultMessage('request', 1, 4), maxWaitMs: 100 });
    assert.equal(body.maxWaitMs, 100);
    assert.equal(body.sessionEpoch, -1); // v7+ field, default -1
    assert.equal(body.rackId, ''); // v11+ field
    assert.equal(body.clusterId, null); // tagged v12+, default null
    assert.deepEqual(body.forgottenTopicsData, []);
    assert.deepEqual(body.replicaState, { replicaId: -1, replicaEpoch: -1n });
  });

  test('properties left undefined are written as their defaults', () => {
    const body = roundTrip('request', 3, 12, { topics: [{ name: 't' }] });
    assert.deepEqual(body.topics, [{ topicId: '00000000-0000-0000-0000-000000000000', name: 't' }]);
    assert.equal(body.allowAutoTopicCreation, true);
  });

  test('unknown tagged fields are kept in _unknownTaggedFields and written back in tag order', () => {
    const unknown = [
      { tag: 9, data: Buffer.from([1, 2, 3]) },
      { tag: 5, data: Buffer.from([]) },
    ];
    const body = { ...defaultMessage('response', 18, 3), finalizedFeaturesEpoch: 7n, zkMigrationReady: true, _unknownTaggedFields: unknown };
    const bytes = encodeResponse(18, 3, 1, body);
    const back = decodeResponse(18, 3, bytes.subarray(4)).body;
    assert.equal(back.finalizedFeaturesEpoch, 7n);
    assert.deepEqual(back._unknownTaggedFields, [unknown[1], unknown[0]]);
    // Tag order on the wire: 1, 3 (known), 5, 9 (unknown).
    assert.ok(encodeResponse(18, 3, 1, back).equals(bytes));
    const tail = bytes.subarray(bytes.length - 21);
    assert.equal(tail.toString('hex'), '04' + '0108' + '0000000000000007' + '030101' + '0500' + '0903010203');
  });

  test('nullable fields round-trip null in the versions where they are nullable', () => {
    const metadata = roundTrip('request', 3, 12, { topics: null });
    assert.equal(metadata.topics, null);
    const produce = roundTrip('request', 0, 9, { transactionalId: null, acks: 1, timeoutMs: 5, topicData: [{ name: 't', partitionData: [{ index: 0, records: null }] }] });
    assert.equal((produce.topicData as Array<{ partitionData: Array<{ records: unknown }> }>)[0]!.partitionData[0]!.records, null);
    const hb = roundTrip('response', 68, 0, { ...defaultMessage('response', 68, 0), assignment: null });
    assert.equal(hb.assignment, null);
    const hb2 = roundTrip('response', 68, 0, { ...defaultMessage('response', 68, 0), assignment: { topicPartitions: [] } });
    assert.deepEqual(hb2.assignment, { topicPartitions: [] });
  });

  test('encoding a non-default value into a field the version lacks fails unless the field is ignorable', () => {
    // Fetch v11 has no LastFetchedEpoch (v12+, not ignorable).
    assert.throws(
      () => encodeRequest({ apiKey: 1, apiVersion: 11, correlationId: 1, clientId: null }, {
        topics: [{ topic: 't', partitions: [{ partition: 0, lastFetchedEpoch: 5 }] }],
      }),
      (err: unknown) => (err as { code?: string }).code === 'MESHD_ERR_KAFKA_ENCODE' &&
        (err as { path: string }).path === 'topics[0].partitions[0].lastFetchedEpoch',
    );
    // Fetch v13 has no topic name, but the field is ignorable: dropped silently, as Kafka does.
    const b = roundTrip('request', 1, 13, { topics: [{ topic: 't', topicId: '11111111-1111-1111-1111-111111111111', partitions: [] }] });
    assert.equal((b.topics as Array<{ topic: string }>)[0]!.topic, '');
  });

  test('values of the wrong type are encode errors with the field path', () => {
    assert.throws(
      () => encodeRequest({ apiKey: 0, apiVersion: 3, correlationId: 1, clientId: null }, { acks: 'all' }),
      (err: unknown) => (err as { code?: string; path?: string }).code === 'MESHD_ERR_KAFKA_ENCODE' && (err as { path: string }).path === 'acks',
    );
    assert.throws(
      () => encodeRequest({ apiKey: 3, apiVersion: 0, correlationId: 1, clientId: null }, { topics: null }),
      /not nullable/,
    );
  });

  test('the consumer protocol data schemas round-trip in every version', () => {
    for (const name of ['ConsumerProtocolSubscription', 'ConsumerProtocolAssignment'] as const) {
      for (let v = 0; v <= 3; v++) {
        const value = defaultKafkaData(name, v);
        assert.deepStrictEqual(decodeKafkaData(name, v, encodeKafkaData(name, v, value)), value);
      }
    }
    const sub = { topics: ['a', 'b'], userData: null, ownedPartitions: [{ topic: 'a', partitions: [0, 1] }], generationId: 3, rackId: 'r1' };
    assert.deepStrictEqual(decodeKafkaData('ConsumerProtocolSubscription', 3, encodeKafkaData('ConsumerProtocolSubscription', 3, sub)), sub);
  });
});
