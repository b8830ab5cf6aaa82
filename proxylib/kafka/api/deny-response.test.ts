import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponse,
  defaultMessage,
  encodeRequest,
  KAFKA_APIS,
  responseHeaderVersion,
  sampleMessage,
  type KafkaMessage,
  type KafkaRequestHeader,
} from '../protocol/index.js';
import { DEFAULT_DENY_ERRORS, DENY_RESPONSE_MAX_ENTRIES, denyResponse, KAFKA_AUTHORIZATION_ERRORS, KAFKA_ERROR, type DenyErrors } from './index.js';

const TOPIC = KAFKA_ERROR.TOPIC_AUTHORIZATION_FAILED;
const GROUP = KAFKA_ERROR.GROUP_AUTHORIZATION_FAILED;
const CLUSTER = KAFKA_ERROR.CLUSTER_AUTHORIZATION_FAILED;
const TXN = KAFKA_ERROR.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
const ID_A = '0a0a0a0a-0000-4000-8000-00000000000a';
const ID_B = '0b0b0b0b-0000-4000-8000-00000000000b';

/** A request as the proxy sees it: encoded by the codec, then its header and body decoded. */
function onTheWire(apiKey: number, apiVersion: number, body: KafkaMessage, correlationId = 0x1234567): { h: KafkaRequestHeader; body: KafkaMessage } {
  const frame = encodeRequest({ apiKey, apiVersion, correlationId, clientId: 'deny-test' }, body).subarray(4);
  const h = decodeRequestHeader(frame);
  return { h, body: decodeRequestBody(apiKey, apiVersion, frame, h.bodyOffset) };
}

/** The denied response as a client receives it: checked framing, decoded body. */
function denied(apiKey: number, apiVersion: number, fields: KafkaMessage, errors: DenyErrors = DEFAULT_DENY_ERRORS): KafkaMessage {
  const { h, body } = onTheWire(apiKey, apiVersion, { ...defaultMessage('request', apiKey, apiVersion), ...fields });
  const frame = denyResponse(h, body, errors);
  assert.equal(frame.readInt32BE(0), frame.length - 4, 'the size prefix covers the rest of the frame');
  const decoded = decodeResponse(apiKey, apiVersion, frame.subarray(4));
  assert.equal(decoded.correlationId, h.correlationId);
  return decoded.body;
}

/** Every error code in a decoded response, with its path. */
function errorCodes(m: unknown, path = ''): Array<{ path: string; code: number }> {
  if (Array.isArray(m)) return m.flatMap((e, i) => errorCodes(e, `${path}[${i}]`));
  if (typeof m !== 'object' || m === null || Buffer.isBuffer(m)) return [];
  const out: Array<{ path: string; code: number }> = [];
  for (const [k, v] of Object.entries(m)) {
    if (/errorCode$/i.test(k) && typeof v === 'number') out.push({ path: `${path}.${k}`, code: v });
    else out.push(...errorCodes(v, `${path}.${k}`));
  }
  return out;
}

/** Populated requests, with the few values that pick a meaning set to one a client sends. */
function populatedRequest(apiKey: number, apiVersion: number): KafkaMessage {
  const m = sampleMessage('request', apiKey, apiVersion, 77 + apiVersion);
  if (apiKey === 10) m['keyType'] = 0; // FindCoordinator for a group
  if (apiKey === 32 || apiKey === 33 || apiKey === 44) for (const r of m['resources'] as KafkaMessage[]) r['resourceType'] = 2;
  return m;
}

/**
 * The error codes of each innermost entry that carries any (a partition under a topic, a topic
 * without partitions, a group, the top level of a flat response): a denial must reach every one of
 * them, not only one somewhere. An entry may hold more than one code (CreateTopics' topic error
 * beside its config error), so each entry's codes come as a group.
 */
function innermostErrorEntries(m: unknown, path = ''): Array<{ path: string; codes: number[] }> {
  if (Array.isArray(m)) return m.flatMap((e, i) => innermostErrorEntries(e, `${path}[${i}]`));
  if (typeof m !== 'object' || m === null || Buffer.isBuffer(m)) return [];
  const own: number[] = [];
  const nested: Array<{ path: string; codes: number[] }> = [];
  for (const [k, v] of Object.entries(m)) {
    if (/errorCode$/i.test(k) && typeof v === 'number') own.push(v);
    else nested.push(...innermostErrorEntries(v, `${path}.${k}`));
  }
  if (nested.length > 0) return nested;
  return own.length > 0 ? [{ path: path || '.', codes: own }] : [];
}

const topicsOf = (m: KafkaMessage, field: string) => m[field] as KafkaMessage[];

describe('denyResponse for every API key and version', () => {
  for (const [apiKey, api] of KAFKA_APIS) {
    test(`${api.name} (${apiKey}) v${api.minVersion}-${api.maxVersion}: the API's own response, same correlation id, with an authorization error`, () => {
      for (let v = api.minVersion; v <= api.maxVersion; v++) {
        const { h, body } = onTheWire(apiKey, v, populatedRequest(apiKey, v), 1000 + v);
        const frame = denyResponse(h, body, DEFAULT_DENY_ERRORS);
        assert.equal(frame.readInt32BE(0), frame.length - 4);
        const decoded = decodeResponse(apiKey, v, frame.subarray(4));
        assert.equal(decoded.correlationId, 1000 + v, `${api.name} v${v}: correlation id`);
        // Header v1 (flexible) carries an empty tagged-field section right after the correlation id.
        if (responseHeaderVersion(apiKey, v) === 1) assert.equal(frame[8], 0, `${api.name} v${v}: response header v1`);
        const codes = errorCodes(decoded.body);
        assert.ok(codes.some((c) => KAFKA_AUTHORIZATION_ERRORS.has(c.code)), `${api.name} v${v}: an authorization error somewhere, got ${JSON.stringify(codes.slice(0, 6))}`);
        const admitted = innermostErrorEntries(decoded.body).filter((e) => !e.codes.some((c) => KAFKA_AUTHORIZATION_ERRORS.has(c)));
        assert.deepEqual(admitted, [], `${api.name} v${v}: every innermost entry of the response carries an authorization error`);
        assert.equal(decoded.body['throttleTimeMs'] ?? 0, 0);

        // Without a body (the header decoded, the body did not) and with an empty request, it still encodes.
        const bare = decodeResponse(apiKey, v, denyResponse(h, undefined, DEFAULT_DENY_ERRORS).subarray(4));
        assert.equal(bare.correlationId, 1000 + v);
        const empty = onTheWire(apiKey, v, defaultMessage('request', apiKey, v), 5);
        assert.equal(decodeResponse(apiKey, v, denyResponse(empty.h, empty.body, DEFAULT_DENY_ERRORS).subarray(4)).correlationId, 5);
      }
    });
  }
});

describe('denyResponse mirrors the request for topic APIs', () => {
  test('Produce: every topic and partition of the request gets TOPIC_AUTHORIZATION_FAILED', () => {
    for (const v of [0, 3, 7, 9, 11]) {
      const topicData = [
        { name: 'a', partitionData: [{ index: 0, records: null }, { index: 3, records: null }] },
        { name: 'b', partitionData: [{ index: 1, records: null }] },
      ];
      const r = denied(0, v, { acks: -1, topicData });
      const got = topicsOf(r, 'responses').flatMap((t) => topicsOf(t, 'partitionResponses').map((p) => [t['name'], p['index'], p['errorCode'], p['baseOffset']]));
      assert.deepEqual(got, [['a', 0, TOPIC, -1n], ['a', 3, TOPIC, -1n], ['b', 1, TOPIC, -1n]], `v${v}`);
    }
  });

  test('Produce by a transactional producer denied for its transactional id carries TRANSACTIONAL_ID_AUTHORIZATION_FAILED', () => {
    const r = denied(0, 9, { acks: -1, transactionalId: 'tx', topicData: [{ name: 'a', partitionData: [{ index: 0, records: null }] }] }, { ...DEFAULT_DENY_ERRORS, cause: 'transactionalId' });
    assert.equal(topicsOf(topicsOf(r, 'responses')[0]!, 'partitionResponses')[0]!['errorCode'], TXN);
  });

  test('Fetch: per-partition errors under a top-level NONE, session closed; top-level error when nothing is named', () => {
    const partitions = [{ partition: 0, fetchOffset: 5n, partitionMaxBytes: 1 << 20 }, { partition: 2, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }];
    for (const v of [0, 4, 7, 11, 12]) {
      const r = denied(1, v, { topics: [{ topic: 'events', partitions }], sessionId: 9, sessionEpoch: 3 });
      const got = topicsOf(r, 'responses').flatMap((t) => topicsOf(t, 'partitions').map((p) => [t['topic'], p['partitionIndex'], p['errorCode'], p['highWatermark']]));
      assert.deepEqual(got, [['events', 0, TOPIC, -1n], ['events', 2, TOPIC, -1n]], `v${v}`);
      assert.equal(r['errorCode'], 0);
      assert.equal(r['sessionId'], 0);
    }
    const incremental = denied(1, 12, { topics: [], sessionId: 9, sessionEpoch: 3 });
    assert.equal(incremental['errorCode'], TOPIC);
  });

  test('Fetch v13+ by topic id: unresolved ids carry their override (UNKNOWN_TOPIC_ID), known ones the topic error', () => {
    const partitions = [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1024 }];
    const errors = { ...DEFAULT_DENY_ERRORS, perTopic: new Map([[ID_B, KAFKA_ERROR.UNKNOWN_TOPIC_ID]]) };
    for (const v of [13, 17]) {
      const r = denied(1, v, { topics: [{ topicId: ID_A, partitions }, { topicId: ID_B, partitions }] }, errors);
      const got = topicsOf(r, 'responses').map((t) => [t['topicId'], topicsOf(t, 'partitions')[0]!['errorCode']]);
      assert.deepEqual(got, [[ID_A, TOPIC], [ID_B, KAFKA_ERROR.UNKNOWN_TOPIC_ID]]);
    }
  });

  test('Metadata: every requested topic with TOPIC_AUTHORIZATION_FAILED and no partitions; all topics → an empty list', () => {
    for (const v of [0, 1, 4, 9, 12]) {
      const r = denied(3, v, { topics: [{ name: 'a' }, { name: 'b' }] });
      assert.deepEqual(topicsOf(r, 'topics').map((t) => [t['name'], t['errorCode'], (t['partitions'] as unknown[]).length]), [['a', TOPIC, 0], ['b', TOPIC, 0]], `v${v}`);
    }
    const all = denied(3, 12, { topics: null });
    assert.deepEqual([all['topics'], all['brokers']], [[], []]);
    const byId = denied(3, 12, { topics: [{ name: null, topicId: ID_A }] });
    assert.deepEqual(topicsOf(byId, 'topics').map((t) => [t['name'], t['topicId'], t['errorCode']]), [[null, ID_A, TOPIC]]);
  });

  test('Metadata lists the brokers the caller passes, so clients that ignore broker-less metadata see the topic error', () => {
    const { h, body } = onTheWire(3, 12, { ...defaultMessage('request', 3, 12), topics: [{ name: 'a', topicId: '00000000-0000-0000-0000-000000000000' }] });
    const frame = denyResponse(h, body, DEFAULT_DENY_ERRORS, { brokers: [{ nodeId: 1, host: '10.0.0.1', port: 9092, rack: null }] });
    const r = decodeResponse(3, 12, frame.subarray(4)).body;
    assert.deepEqual((r['brokers'] as KafkaMessage[]).map((b) => [b['nodeId'], b['host'], b['port']]), [[1, '10.0.0.1', 9092]]);
  });

  test('ListOffsets, DeleteRecords, OffsetForLeaderEpoch: every topic and partition with the topic error', () => {
    const lo = denied(2, 7, { topics: [{ name: 'a', partitions: [{ partitionIndex: 4, timestamp: -1n }] }] });
    assert.deepEqual(topicsOf(lo, 'topics').flatMap((t) => topicsOf(t, 'partitions').map((p) => [t['name'], p['partitionIndex'], p['errorCode'], p['offset']])), [['a', 4, TOPIC, -1n]]);
    const dr = denied(21, 2, { topics: [{ name: 'a', partitions: [{ partitionIndex: 1, offset: 9n }] }] });
    assert.deepEqual(topicsOf(dr, 'topics').flatMap((t) => topicsOf(t, 'partitions').map((p) => [t['name'], p['partitionIndex'], p['errorCode']])), [['a', 1, TOPIC]]);
    const ofle = denied(23, 4, { topics: [{ topic: 'a', partitions: [{ partition: 2, leaderEpoch: 1 }] }] });
    assert.deepEqual(topicsOf(ofle, 'topics').flatMap((t) => topicsOf(t, 'partitions').map((p) => [t['topic'], p['partition'], p['errorCode']])), [['a', 2, TOPIC]]);
  });

  test('OffsetCommit: topic denials per partition, group denials GROUP_AUTHORIZATION_FAILED on every partition', () => {
    const topics = [{ name: 'a', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }];
    const byTopic = denied(8, 8, { groupId: 'g', topics });
    assert.equal(topicsOf(topicsOf(byTopic, 'topics')[0]!, 'partitions')[0]!['errorCode'], TOPIC);
    const byGroup = denied(8, 8, { groupId: 'g', topics }, { ...DEFAULT_DENY_ERRORS, cause: 'group' });
    assert.equal(topicsOf(topicsOf(byGroup, 'topics')[0]!, 'partitions')[0]!['errorCode'], GROUP);
  });

  test('OffsetFetch: one group up to v7, per group from v8; a group denial is the group error', () => {
    const v7 = denied(9, 7, { groupId: 'g', topics: [{ name: 'a', partitionIndexes: [0, 1] }] }, { ...DEFAULT_DENY_ERRORS, cause: 'group' });
    assert.equal(v7['errorCode'], GROUP);
    const v1 = denied(9, 1, { groupId: 'g', topics: [{ name: 'a', partitionIndexes: [0] }] });
    assert.equal(topicsOf(topicsOf(v1, 'topics')[0]!, 'partitions')[0]!['errorCode'], TOPIC);
    const v8 = denied(9, 8, { groups: [{ groupId: 'g1', topics: null }, { groupId: 'g2', topics: [{ name: 'a', partitionIndexes: [3] }] }] });
    assert.deepEqual(topicsOf(v8, 'groups').map((g) => [g['groupId'], g['errorCode']]), [['g1', TOPIC], ['g2', 0]]);
    assert.equal(topicsOf(topicsOf(topicsOf(v8, 'groups')[1]!, 'topics')[0]!, 'partitions')[0]!['errorCode'], TOPIC);
    const v9 = denied(9, 9, { groups: [{ groupId: 'g1', topics: null }] }, { ...DEFAULT_DENY_ERRORS, cause: 'group' });
    assert.deepEqual(topicsOf(v9, 'groups').map((g) => [g['groupId'], g['errorCode']]), [['g1', GROUP]]);
  });

  test('CreateTopics, DeleteTopics, CreatePartitions: every topic with the topic error', () => {
    const ct = denied(19, 7, { topics: [{ name: 'a', numPartitions: 1, replicationFactor: 1 }, { name: 'b', numPartitions: 1, replicationFactor: 1 }] });
    assert.deepEqual(topicsOf(ct, 'topics').map((t) => [t['name'], t['errorCode']]), [['a', TOPIC], ['b', TOPIC]]);
    const dt5 = denied(20, 5, { topicNames: ['a', 'b'] });
    assert.deepEqual(topicsOf(dt5, 'responses').map((t) => [t['name'], t['errorCode']]), [['a', TOPIC], ['b', TOPIC]]);
    const dt6 = denied(20, 6, { topics: [{ name: 'a', topicId: '00000000-0000-0000-0000-000000000000' }, { name: null, topicId: ID_A }] });
    assert.deepEqual(topicsOf(dt6, 'responses').map((t) => [t['name'], t['topicId'], t['errorCode']]), [['a', '00000000-0000-0000-0000-000000000000', TOPIC], [null, ID_A, TOPIC]]);
    const cp = denied(37, 3, { topics: [{ name: 'a', count: 3, assignments: null }] });
    assert.deepEqual(topicsOf(cp, 'results').map((t) => [t['name'], t['errorCode']]), [['a', TOPIC]]);
  });

  test('AddPartitionsToTxn: per topic partition up to v3, per transaction from v4', () => {
    const v3 = denied(24, 3, { v3AndBelowTransactionalId: 'tx', v3AndBelowTopics: [{ name: 'a', partitions: [0, 1] }] }, { ...DEFAULT_DENY_ERRORS, cause: 'transactionalId' });
    assert.deepEqual(topicsOf(v3, 'resultsByTopicV3AndBelow').flatMap((t) => topicsOf(t, 'resultsByPartition').map((p) => [t['name'], p['partitionIndex'], p['partitionErrorCode']])), [['a', 0, TXN], ['a', 1, TXN]]);
    const v5 = denied(24, 5, { transactions: [{ transactionalId: 'tx', producerId: 1n, producerEpoch: 0, topics: [{ name: 'a', partitions: [2] }] }] });
    const results = topicsOf(v5, 'resultsByTransaction');
    assert.deepEqual(results.map((r) => r['transactionalId']), ['tx']);
    assert.equal(topicsOf(topicsOf(results[0]!, 'topicResults')[0]!, 'resultsByPartition')[0]!['partitionErrorCode'], TOPIC);
  });

  test('TxnOffsetCommit: every partition, with the cause picking topic, group or transactional id error', () => {
    const fields = { transactionalId: 'tx', groupId: 'g', topics: [{ name: 'a', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }] };
    const code = (errors: DenyErrors) => topicsOf(topicsOf(denied(28, 3, fields, errors), 'topics')[0]!, 'partitions')[0]!['errorCode'];
    assert.equal(code(DEFAULT_DENY_ERRORS), TOPIC);
    assert.equal(code({ ...DEFAULT_DENY_ERRORS, cause: 'group' }), GROUP);
    assert.equal(code({ ...DEFAULT_DENY_ERRORS, cause: 'transactionalId' }), TXN);
  });

  test('config APIs answer per resource: TOPIC_AUTHORIZATION_FAILED for topics, GROUP_ for groups, CLUSTER_ for the rest', () => {
    const resources = [{ resourceType: 2, resourceName: 't' }, { resourceType: 32, resourceName: 'g' }, { resourceType: 4, resourceName: '1' }];
    const expected = [[2, 't', TOPIC], [32, 'g', GROUP], [4, '1', CLUSTER]];
    const dc = denied(32, 4, { resources: resources.map((r) => ({ ...r, configurationKeys: null })) });
    assert.deepEqual(topicsOf(dc, 'results').map((r) => [r['resourceType'], r['resourceName'], r['errorCode']]), expected);
    for (const [key, v] of [[33, 2], [44, 1], [33, 0]] as const) {
      const r = denied(key, v, { resources: resources.map((x) => ({ ...x, configs: [] })) });
      assert.deepEqual(topicsOf(r, 'responses').map((x) => [x['resourceType'], x['resourceName'], x['errorCode']]), expected, `key ${key} v${v}`);
    }
  });

  test('DescribeProducers: every topic partition; DescribeTopicPartitions: every topic', () => {
    const dp = denied(61, 0, { topics: [{ name: 'a', partitionIndexes: [0, 5] }] });
    assert.deepEqual(topicsOf(dp, 'topics').flatMap((t) => topicsOf(t, 'partitions').map((p) => [t['name'], p['partitionIndex'], p['errorCode']])), [['a', 0, TOPIC], ['a', 5, TOPIC]]);
    const dtp = denied(75, 0, { topics: [{ name: 'a' }, { name: 'b' }] });
    assert.deepEqual(topicsOf(dtp, 'topics').map((t) => [t['name'], t['errorCode']]), [['a', TOPIC], ['b', TOPIC]]);
  });

  test('group APIs answer GROUP_AUTHORIZATION_FAILED, transactional ones TRANSACTIONAL_ID_AUTHORIZATION_FAILED, others CLUSTER_', () => {
    for (const [key, v] of [[11, 9], [12, 4], [13, 5], [14, 5], [11, 0]] as const) assert.equal(denied(key, v, { groupId: 'g' })['errorCode'], GROUP, `key ${key}`);
    assert.deepEqual(topicsOf(denied(15, 5, { groups: ['g1', 'g2'] }), 'groups').map((g) => [g['groupId'], g['errorCode']]), [['g1', GROUP], ['g2', GROUP]]);
    assert.deepEqual(topicsOf(denied(42, 2, { groupsNames: ['g'] }), 'results').map((g) => [g['groupId'], g['errorCode']]), [['g', GROUP]]);
    assert.equal(denied(22, 4, { transactionalId: 'tx' })['errorCode'], TXN);
    assert.equal(denied(22, 4, { transactionalId: null })['errorCode'], CLUSTER);
    assert.equal(denied(26, 3, { transactionalId: 'tx' })['errorCode'], TXN);
    assert.equal(denied(25, 3, { transactionalId: 'tx', groupId: 'g' }, { ...DEFAULT_DENY_ERRORS, cause: 'group' })['errorCode'], GROUP);
    assert.equal(denied(18, 3, {})['errorCode'], CLUSTER);
    assert.equal(denied(60, 1, {})['errorCode'], CLUSTER);
  });

  test('FindCoordinator: no coordinator and the key type error, per key from v4', () => {
    const v3 = denied(10, 3, { key: 'g', keyType: 0 });
    assert.deepEqual([v3['errorCode'], v3['nodeId'], v3['host'], v3['port']], [GROUP, -1, '', -1]);
    assert.equal(denied(10, 2, { key: 'tx', keyType: 1 })['errorCode'], TXN);
    const v4 = denied(10, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2'] });
    assert.deepEqual(topicsOf(v4, 'coordinators').map((c) => [c['key'], c['nodeId'], c['errorCode']]), [['g1', -1, GROUP], ['g2', -1, GROUP]]);
  });

  test('an error message is written where the response has one, when asked for', () => {
    const r = denied(32, 4, { resources: [{ resourceType: 2, resourceName: 't', configurationKeys: null }] }, { ...DEFAULT_DENY_ERRORS, message: 'denied by policy' });
    assert.equal(topicsOf(r, 'results')[0]!['errorMessage'], 'denied by policy');
    const plain = denied(32, 4, { resources: [{ resourceType: 2, resourceName: 't', configurationKeys: null }] });
    assert.equal(topicsOf(plain, 'results')[0]!['errorMessage'], null);
  });

  test('an API key outside the schema set has no deny response: the codec refuses to encode it', () => {
    const h: KafkaRequestHeader = { apiKey: 999, apiVersion: 0, correlationId: 1, clientId: null, headerVersion: 1, bodyOffset: 0 };
    assert.throws(() => denyResponse(h, undefined, DEFAULT_DENY_ERRORS), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_KAFKA_ENCODE');
    assert.throws(() => denyResponse({ ...h, apiKey: 0, apiVersion: 99 }, undefined, DEFAULT_DENY_ERRORS), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_KAFKA_ENCODE');
  });

  test('a denied request too large to mirror is refused with MESHD_ERR_KAFKA_ENCODE instead of allocating without bound', () => {
    const h: KafkaRequestHeader = { apiKey: 9, apiVersion: 1, correlationId: 1, clientId: null, headerVersion: 1, bodyOffset: 0 };
    const partitionIndexes = new Array<number>(DENY_RESPONSE_MAX_ENTRIES + 1).fill(0);
    assert.throws(() => denyResponse(h, { groupId: 'g', topics: [{ name: 't', partitionIndexes }] }, DEFAULT_DENY_ERRORS), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_KAFKA_ENCODE');
    const fits = denyResponse(h, { groupId: 'g', topics: [{ name: 't', partitionIndexes: partitionIndexes.slice(0, 10_000) }] }, DEFAULT_DENY_ERRORS);
    assert.equal((decodeResponse(9, 1, fits.subarray(4)).body['topics'] as KafkaMessage[])[0]!['partitions'] instanceof Array, true);
  });
});
