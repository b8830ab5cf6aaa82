// The fixture broker at the protocol level, with exact versions and bytes: version negotiation, every
// advertised version of every implemented API, offsets and batches, parked fetches, response order,
// consumer group state, listeners and shutdown.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaFixtureBroker, KafkaRawClient, buildRecordBatch, decodeBatchRecords } from '../fixtures/kafka-broker/index.js';

type Msg = Record<string, unknown>;
const arr = (v: unknown): Msg[] => v as Msg[];

interface ApiRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

async function apiVersions(client: KafkaRawClient, version = 3): Promise<ApiRange[]> {
  const body = await client.request(18, version, KafkaRawClient.defaultRequest(18, version));
  assert.equal(body.errorCode, 0);
  return body.apiKeys as ApiRange[];
}

function produceBody(version: number, topic: string, partition: number, records: Buffer, acks = 1): Msg {
  return { ...KafkaRawClient.defaultRequest(0, version), acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

function fetchBody(version: number, topic: { name: string; id: string }, partition: number, fetchOffset: bigint, maxWaitMs = 0, minBytes = 1): Msg {
  return {
    ...KafkaRawClient.defaultRequest(1, version),
    maxWaitMs,
    minBytes,
    maxBytes: 1 << 20,
    isolationLevel: version >= 4 ? 1 : 0,
    topics: [{ topic: version < 13 ? topic.name : '', topicId: version >= 13 ? topic.id : '00000000-0000-0000-0000-000000000000', partitions: [{ partition, fetchOffset, partitionMaxBytes: 1 << 20 }] }],
  };
}

async function topicId(client: KafkaRawClient, name: string): Promise<string> {
  const md = await client.request(3, 12, { ...KafkaRawClient.defaultRequest(3, 12), topics: [{ name, topicId: '00000000-0000-0000-0000-000000000000' }] });
  const t = arr(md.topics)[0]!;
  assert.equal(t.errorCode, 0);
  return t.topicId as string;
}

describe('kafka fixture broker: protocol', () => {
  let broker: KafkaFixtureBroker;
  let client: KafkaRawClient;
  const clients: KafkaRawClient[] = [];
  const open = async (b: KafkaFixtureBroker = broker, port = b.port): Promise<KafkaRawClient> => {
    const c = await KafkaRawClient.connect(b.host, port);
    clients.push(c);
    return c;
  };

  before(async () => {
    broker = await KafkaFixtureBroker.start({ topics: [{ name: 'orders', partitions: 2 }] });
    client = await open();
  });
  after(async () => {
    for (const c of clients) c.close();
    await broker.close();
  });

  test('ApiVersions lists every implemented API from its min version to its max stable version', async () => {
    const apis = await apiVersions(client);
    const keys = apis.map((a) => a.apiKey);
    for (const k of [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 18, 19, 20, 22, 23, 32]) assert.ok(keys.includes(k), `api key ${k} advertised`);
    const metadata = apis.find((a) => a.apiKey === 3)!;
    assert.equal(metadata.minVersion, 0);
    assert.ok(metadata.maxVersion >= 12, 'Metadata up to v12');
    const fetch = apis.find((a) => a.apiKey === 1)!;
    assert.ok(fetch.maxVersion >= 13, 'Fetch with topic ids');
  });

  test('every advertised version of every implemented API answers a default request with a decodable response', async () => {
    const apis = await apiVersions(client);
    const sweep = await open();
    for (const { apiKey, minVersion, maxVersion } of apis) {
      for (let v = minVersion; v <= maxVersion; v++) {
        const body = KafkaRawClient.defaultRequest(apiKey, v);
        if (apiKey === 0) body.acks = 1; // acks=0 has no response
        await assert.doesNotReject(sweep.request(apiKey, v, body), `api ${apiKey} v${v}`);
      }
    }
    assert.equal(sweep.closed, false);
  });

  test('an ApiVersions request in a version the broker does not know gets UNSUPPORTED_VERSION in the v0 layout', async () => {
    const c = await open();
    // Header v2 (flexible) with an empty tagged-field section and an ApiVersions v127 body of two empty compact strings.
    const clientId = Buffer.from('probe');
    const payload = Buffer.concat([Buffer.from([0, 18, 0, 127, 0, 0, 0, 9, 0, clientId.length]), clientId, Buffer.from([0, 1, 1, 0])]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    c.sendRaw(Buffer.concat([size, payload]));
    const { correlationId, frame } = await c.next();
    assert.equal(correlationId, 9);
    // v0 layout: correlation id, error code, api key array (int32 count, then 6 bytes per key).
    assert.equal(frame.readInt16BE(4), 35);
    const count = frame.readInt32BE(6);
    assert.ok(count >= 18);
    assert.equal(frame.length, 10 + count * 6);
    assert.equal(c.closed, false);
  });

  test('maxVersions caps what is advertised; a request above the cap closes the connection, ApiVersions above it is answered', async () => {
    const capped = await KafkaFixtureBroker.start({ maxVersions: { 3: 4, 18: 2 } });
    try {
      const c = await open(capped);
      const apis = await apiVersions(c, 2);
      assert.equal(apis.find((a) => a.apiKey === 3)!.maxVersion, 4);
      assert.equal(apis.find((a) => a.apiKey === 18)!.maxVersion, 2);
      const probeId = c.send(18, 3, KafkaRawClient.defaultRequest(18, 3));
      const probe = await c.next();
      assert.equal(probe.correlationId, probeId);
      assert.equal(probe.frame.readInt16BE(4), 35, 'UNSUPPORTED_VERSION in the v0 layout');
      const c2 = await open(capped);
      c2.send(3, 5, { ...KafkaRawClient.defaultRequest(3, 5), topics: null });
      await c2.waitClosed();
    } finally {
      await capped.close();
    }
  });

  test('an unknown api key closes the connection', async () => {
    const c = await open();
    const payload = Buffer.from([0, 200, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    c.sendRaw(Buffer.concat([size, payload]));
    await c.waitClosed();
    assert.ok(broker.requestsSeen().some((r) => r.apiKey === 200));
  });

  test('Produce appends several batches per partition with consecutive offsets; Fetch returns them as stored', async () => {
    const c = await open();
    const two = Buffer.concat([buildRecordBatch([{ key: 'k0', value: 'v0' }, { key: 'k1', value: 'v1' }]), buildRecordBatch([{ key: null, value: 'v2' }])]);
    const r1 = await c.request(0, 7, produceBody(7, 'orders', 1, two));
    const p1 = arr(arr(r1.responses)[0]!.partitionResponses)[0]!;
    assert.equal(p1.errorCode, 0);
    assert.equal(p1.baseOffset, 0n);
    const r2 = await c.request(0, 9, produceBody(9, 'orders', 1, buildRecordBatch([{ key: 'k3', value: null }])));
    assert.equal(arr(arr(r2.responses)[0]!.partitionResponses)[0]!.baseOffset, 3n);
    assert.deepEqual(
      broker.records('orders', 1).map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null]),
      [
        [0n, 'k0', 'v0'],
        [1n, 'k1', 'v1'],
        [2n, null, 'v2'],
        [3n, 'k3', null],
      ],
    );
    const id = await topicId(c, 'orders');
    for (const v of [4, 11, 12, 13, 16]) {
      const f = await c.request(1, v, fetchBody(v, { name: 'orders', id }, 1, 1n));
      const part = arr(arr(f.responses)[0]!.partitions)[0]!;
      assert.equal(part.errorCode, 0, `Fetch v${v}`);
      assert.equal(part.highWatermark, 4n);
      assert.equal(part.lastStableOffset, 4n);
      const records = part.records as Buffer;
      // The batch holding offset 1 comes back whole (offsets 0..2), then the next one.
      const decoded = [];
      for (let pos = 0; pos < records.length; ) {
        const len = records.readInt32BE(pos + 8) + 12;
        decoded.push(...decodeBatchRecords(records.subarray(pos, pos + len)));
        pos += len;
      }
      assert.deepEqual(decoded.map((d) => d.offset), [0n, 1n, 2n, 3n], `Fetch v${v}`);
    }
  });

  test('a batch with a wrong CRC is refused with CORRUPT_MESSAGE and not stored', async () => {
    const c = await open();
    const batch = buildRecordBatch([{ key: 'x', value: 'y' }]);
    batch.writeUInt8(batch.readUInt8(batch.length - 1) ^ 0xff, batch.length - 1);
    const r = await c.request(0, 7, produceBody(7, 'orders', 0, batch));
    assert.equal(arr(arr(r.responses)[0]!.partitionResponses)[0]!.errorCode, 2);
    assert.equal(broker.records('orders', 0).length, 0);
  });

  test('Produce with acks=0 gets no response and the next request is answered; an acks=0 error closes the connection', async () => {
    const c = await open();
    await c.request(3, 4, { ...KafkaRawClient.defaultRequest(3, 4), topics: [{ name: 'acks0' }], allowAutoTopicCreation: true });
    c.send(0, 7, produceBody(7, 'acks0', 0, buildRecordBatch([{ key: null, value: 'fire-and-forget' }]), 0));
    const md = await c.request(3, 1, { ...KafkaRawClient.defaultRequest(3, 1), topics: [{ name: 'acks0' }] });
    assert.equal(arr(md.topics)[0]!.errorCode, 0);
    assert.deepEqual(broker.records('acks0').map((r) => r.value?.toString()), ['fire-and-forget']);
    c.send(0, 7, produceBody(7, 'no-such-topic', 0, buildRecordBatch([{ key: null, value: 'lost' }]), 0));
    await c.waitClosed();
  });

  test('a parked Fetch returns when data arrives, and holds back later responses on its connection', async () => {
    const consumer = await open();
    const producer = await open();
    const id = await topicId(consumer, 'orders');
    const start = Date.now();
    const fetchId = consumer.send(1, 12, fetchBody(12, { name: 'orders', id }, 0, 0n, 3000, 1));
    const metaId = consumer.send(3, 9, { ...KafkaRawClient.defaultRequest(3, 9), topics: null });
    await new Promise((r) => setTimeout(r, 150));
    await producer.request(0, 7, produceBody(7, 'orders', 0, buildRecordBatch([{ key: 'late', value: 'arrival' }])));
    const first = await consumer.next();
    const second = await consumer.next();
    assert.deepEqual([first.correlationId, second.correlationId], [fetchId, metaId]);
    assert.ok(Date.now() - start < 2500, 'woken by the produce, not by maxWaitMs');
  });

  test('a Fetch with nothing to return waits maxWaitMs (bounded) then answers empty', async () => {
    const c = await open();
    const id = await topicId(c, 'orders');
    const start = Date.now();
    const f = await c.request(1, 11, fetchBody(11, { name: 'orders', id }, 1, 4n, 300, 1));
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 250 && elapsed < 2000, `waited ${elapsed} ms`);
    assert.equal((arr(arr(f.responses)[0]!.partitions)[0]!.records as Buffer).length, 0);
  });

  test('Fetch past the log end is OFFSET_OUT_OF_RANGE; an unknown topic id is UNKNOWN_TOPIC_ID', async () => {
    const c = await open();
    const id = await topicId(c, 'orders');
    const f = await c.request(1, 13, fetchBody(13, { name: 'orders', id }, 1, 99n));
    assert.equal(arr(arr(f.responses)[0]!.partitions)[0]!.errorCode, 1);
    const u = await c.request(1, 13, fetchBody(13, { name: '', id: '11111111-2222-3333-4444-555555555555' }, 0, 0n));
    assert.equal(arr(arr(u.responses)[0]!.partitions)[0]!.errorCode, 100);
  });

  test('ListOffsets answers earliest (-2) and latest (-1), in v0 as old-style offsets', async () => {
    const c = await open();
    const ask = async (v: number, timestamp: bigint): Promise<Msg> => {
      const r = await c.request(2, v, { ...KafkaRawClient.defaultRequest(2, v), replicaId: -1, topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, timestamp, currentLeaderEpoch: -1, maxNumOffsets: 1 }] }] });
      return arr(arr(r.topics)[0]!.partitions)[0]!;
    };
    assert.equal((await ask(1, -1n)).offset, 4n);
    assert.equal((await ask(7, -2n)).offset, 0n);
    assert.deepEqual((await ask(0, -1n)).oldStyleOffsets, [4n]);
  });

  test('Metadata auto-creates topics when allowed, gives topic ids from v10, and resolves a topic by id in v12', async () => {
    const c = await open();
    const created = await c.request(3, 9, { ...KafkaRawClient.defaultRequest(3, 9), topics: [{ name: 'auto-made' }], allowAutoTopicCreation: true });
    assert.equal(arr(created.topics)[0]!.errorCode, 0);
    const refused = await c.request(3, 9, { ...KafkaRawClient.defaultRequest(3, 9), topics: [{ name: 'not-made' }], allowAutoTopicCreation: false });
    assert.equal(arr(refused.topics)[0]!.errorCode, 3);
    const id = await topicId(c, 'auto-made');
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const byId = await c.request(3, 12, { ...KafkaRawClient.defaultRequest(3, 12), topics: [{ name: null, topicId: id }] });
    assert.equal(arr(byId.topics)[0]!.name, 'auto-made');
    const unknown = await c.request(3, 12, { ...KafkaRawClient.defaultRequest(3, 12), topics: [{ name: null, topicId: '11111111-2222-3333-4444-555555555555' }] });
    assert.equal(arr(unknown.topics)[0]!.errorCode, 100);
  });

  test('FindCoordinator answers single keys up to v3 and batched keys from v4', async () => {
    const c = await open();
    const v3 = await c.request(10, 3, { ...KafkaRawClient.defaultRequest(10, 3), key: 'g', keyType: 0 });
    assert.deepEqual([v3.errorCode, v3.nodeId, v3.host, v3.port], [0, 1, broker.host, broker.port]);
    const v4 = await c.request(10, 4, { ...KafkaRawClient.defaultRequest(10, 4), keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(
      arr(v4.coordinators).map((k) => [k.key, k.port, k.errorCode]),
      [
        ['a', broker.port, 0],
        ['b', broker.port, 0],
      ],
    );
  });

  test('a second listener advertises its own address in Metadata and FindCoordinator', async () => {
    const extra = await broker.addListener({ advertised: { host: 'proxy.example', port: 19999 } });
    const c = await open(broker, extra.port);
    const md = await c.request(3, 9, { ...KafkaRawClient.defaultRequest(3, 9), topics: null });
    assert.deepEqual(
      arr(md.brokers).map((b) => [b.host, b.port]),
      [['proxy.example', 19999]],
    );
    const fc = await c.request(10, 2, { ...KafkaRawClient.defaultRequest(10, 2), key: 'g' });
    assert.deepEqual([fc.host, fc.port], ['proxy.example', 19999]);
    const direct = await client.request(3, 9, { ...KafkaRawClient.defaultRequest(3, 9), topics: null });
    assert.equal(arr(direct.brokers)[0]!.port, broker.port);
  });

  test('two members join a group: both wait for the rebalance, the leader gets both metadata, SyncGroup hands out assignments', async () => {
    const a = await open();
    const b = await open();
    const join = (c: KafkaRawClient, memberId: string, meta: string): Promise<Msg> =>
      c.request(11, 5, {
        ...KafkaRawClient.defaultRequest(11, 5),
        groupId: 'raw-group',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 3_000,
        memberId,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.from(meta) }],
      });
    // KIP-394: the first JoinGroup without a member id (v4+) gets MEMBER_ID_REQUIRED and an id.
    const firstA = await join(a, '', 'meta-a');
    assert.equal(firstA.errorCode, 79);
    const joinedA = await join(a, firstA.memberId as string, 'meta-a');
    assert.equal(joinedA.errorCode, 0);
    assert.equal(joinedA.generationId, 1);
    const syncA = await a.request(14, 3, { ...KafkaRawClient.defaultRequest(14, 3), groupId: 'raw-group', generationId: 1, memberId: joinedA.memberId, assignments: [{ memberId: joinedA.memberId, assignment: Buffer.from('all') }] });
    assert.equal(syncA.errorCode, 0);
    // b joins: a learns of the rebalance from its heartbeat, rejoins, and both get generation 2.
    const firstB = await join(b, '', 'meta-b');
    const joinB = join(b, firstB.memberId as string, 'meta-b');
    await new Promise((r) => setTimeout(r, 50));
    const hb = await a.request(12, 3, { ...KafkaRawClient.defaultRequest(12, 3), groupId: 'raw-group', generationId: 1, memberId: joinedA.memberId });
    assert.equal(hb.errorCode, 27);
    const [rejoinA, joinedB] = await Promise.all([join(a, joinedA.memberId as string, 'meta-a'), joinB]);
    assert.equal(rejoinA.generationId, 2);
    assert.equal(joinedB.generationId, 2);
    assert.equal(rejoinA.leader, joinedA.memberId);
    assert.deepEqual(arr(rejoinA.members).map((m) => (m.metadata as Buffer).toString()).sort(), ['meta-a', 'meta-b']);
    assert.deepEqual(joinedB.members, []);
    const syncB = b.request(14, 3, { ...KafkaRawClient.defaultRequest(14, 3), groupId: 'raw-group', generationId: 2, memberId: joinedB.memberId, assignments: [] });
    const syncA2 = await a.request(14, 3, {
      ...KafkaRawClient.defaultRequest(14, 3),
      groupId: 'raw-group',
      generationId: 2,
      memberId: joinedA.memberId,
      assignments: [
        { memberId: joinedA.memberId, assignment: Buffer.from('p0') },
        { memberId: joinedB.memberId, assignment: Buffer.from('p1') },
      ],
    });
    assert.equal((syncA2.assignment as Buffer).toString(), 'p0');
    assert.equal(((await syncB).assignment as Buffer).toString(), 'p1');
    const described = await a.request(15, 5, { ...KafkaRawClient.defaultRequest(15, 5), groups: ['raw-group'] });
    const g = arr(described.groups)[0]!;
    assert.deepEqual([g.groupState, g.protocolType, g.protocolData, arr(g.members).length], ['Stable', 'consumer', 'range', 2]);
    // b leaves: the group rebalances with a alone.
    const left = await b.request(13, 3, { ...KafkaRawClient.defaultRequest(13, 3), groupId: 'raw-group', members: [{ memberId: joinedB.memberId, groupInstanceId: null }] });
    assert.equal(arr(left.members)[0]!.errorCode, 0);
    const hb2 = await a.request(12, 3, { ...KafkaRawClient.defaultRequest(12, 3), groupId: 'raw-group', generationId: 2, memberId: joinedA.memberId });
    assert.equal(hb2.errorCode, 27);
    const alone = await join(a, joinedA.memberId as string, 'meta-a');
    assert.deepEqual([alone.errorCode, alone.generationId, arr(alone.members).length], [0, 3, 1]);
  });

  test('OffsetCommit then OffsetFetch returns the offsets, including the v8+ groups layout', async () => {
    const c = await open();
    const commit = await c.request(8, 2, {
      ...KafkaRawClient.defaultRequest(8, 2),
      groupId: 'offsets-group',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 3n, committedMetadata: 'm' }] }],
    });
    assert.equal(arr(arr(commit.topics)[0]!.partitions)[0]!.errorCode, 0);
    const v7 = await c.request(9, 7, { ...KafkaRawClient.defaultRequest(9, 7), groupId: 'offsets-group', topics: [{ name: 'orders', partitionIndexes: [0, 1] }] });
    assert.deepEqual(
      arr(arr(v7.topics)[0]!.partitions).map((p) => [p.partitionIndex, p.committedOffset, p.metadata]),
      [
        [0, -1n, ''],
        [1, 3n, 'm'],
      ],
    );
    const v8 = await c.request(9, 8, { ...KafkaRawClient.defaultRequest(9, 8), groups: [{ groupId: 'offsets-group', topics: null }, { groupId: 'nobody', topics: null }] });
    const groups = arr(v8.groups);
    assert.equal(groups.length, 2);
    assert.deepEqual(arr(arr(groups[0]!.topics)[0]!.partitions).map((p) => p.committedOffset), [3n]);
    assert.deepEqual(groups[1]!.topics, []);
  });

  test('CreateTopics, DeleteTopics, DescribeConfigs, InitProducerId, OffsetForLeaderEpoch', async () => {
    const c = await open();
    const created = await c.request(19, 7, { ...KafkaRawClient.defaultRequest(19, 7), topics: [{ name: 'made', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000 });
    const t = arr(created.topics)[0]!;
    assert.deepEqual([t.errorCode, t.numPartitions], [0, 3]);
    const again = await c.request(19, 2, { ...KafkaRawClient.defaultRequest(19, 2), topics: [{ name: 'made', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] });
    assert.equal(arr(again.topics)[0]!.errorCode, 36);
    const configs = await c.request(32, 4, { ...KafkaRawClient.defaultRequest(32, 4), resources: [{ resourceType: 2, resourceName: 'made', configurationKeys: ['retention.ms'] }] });
    assert.deepEqual(arr(arr(configs.results)[0]!.configs).map((x) => [x.name, x.value]), [['retention.ms', '604800000']]);
    const pid = await c.request(22, 4, { ...KafkaRawClient.defaultRequest(22, 4), transactionalId: null, transactionTimeoutMs: 1000 });
    assert.equal(pid.errorCode, 0);
    assert.ok((pid.producerId as bigint) >= 0n);
    const epochs = await c.request(23, 4, { ...KafkaRawClient.defaultRequest(23, 4), topics: [{ topic: 'orders', partitions: [{ partition: 1, currentLeaderEpoch: 0, leaderEpoch: 0 }] }] });
    const e = arr(arr(epochs.topics)[0]!.partitions)[0]!;
    assert.deepEqual([e.errorCode, e.leaderEpoch, e.endOffset], [0, 0, 4n]);
    const deleted = await c.request(20, 6, { ...KafkaRawClient.defaultRequest(20, 6), topics: [{ name: 'made', topicId: '00000000-0000-0000-0000-000000000000' }], timeoutMs: 1000 });
    assert.equal(arr(deleted.responses)[0]!.errorCode, 0);
    const gone = await c.request(3, 9, { ...KafkaRawClient.defaultRequest(3, 9), topics: [{ name: 'made' }], allowAutoTopicCreation: false });
    assert.equal(arr(gone.topics)[0]!.errorCode, 3);
  });

  test('close() ends parked fetches and connections and releases the port', async () => {
    const b = await KafkaFixtureBroker.start({ topics: [{ name: 't', partitions: 1 }] });
    const c = await KafkaRawClient.connect(b.host, b.port);
    try {
      c.send(1, 4, fetchBody(4, { name: 't', id: '' }, 0, 0n, 20_000, 1));
      await new Promise((r) => setTimeout(r, 50));
      const start = Date.now();
      await b.close();
      await c.waitClosed(2000);
      assert.ok(Date.now() - start < 2000);
      await assert.rejects(KafkaRawClient.connect(b.host, b.port));
    } finally {
      c.close();
    }
  });
});
