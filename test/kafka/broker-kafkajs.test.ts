// kafkajs 2.2.4 against the fixture broker directly: admin, an idempotent-off producer with acks -1 and
// 1, and two consumers sharing one group over two partitions (rebalance on join, each gets one
// partition, records arrive intact and in order, offsets are committed). Every client step is bounded.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, Kafka as KafkaClient, Producer } from 'kafkajs';
import { KafkaFixtureBroker } from '../fixtures/kafka-broker/index.js';

const { Kafka, logLevel } = kafkajs;
const STEP_TIMEOUT_MS = 20_000;

async function bounded<T>(promise: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function eventually(check: () => boolean, what: string, ms = STEP_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface Member {
  consumer: Consumer;
  /** The latest assignment from GROUP_JOIN (partitions of the test topic). */
  partitions: number[] | undefined;
  received: Array<{ partition: number; offset: string; key: string; value: string; header: string | undefined }>;
}

describe('kafka fixture broker: kafkajs 2.2.4', () => {
  let broker: KafkaFixtureBroker;
  let kafka: KafkaClient;
  const toClose: Array<{ disconnect(): Promise<void> }> = [];

  before(async () => {
    broker = await KafkaFixtureBroker.start();
    kafka = new Kafka({ clientId: 'broker-kafkajs-test', brokers: [`${broker.host}:${broker.port}`], logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 100 } });
  });
  after(async () => {
    for (const c of toClose.reverse()) await bounded(c.disconnect(), 'disconnect').catch(() => undefined);
    await broker.close();
  });

  test('admin creates a topic with two partitions and reads its metadata and configs', async () => {
    const admin: Admin = kafka.admin();
    toClose.push(admin);
    await bounded(admin.connect(), 'admin connect');
    assert.equal(await bounded(admin.createTopics({ topics: [{ topic: 'kjs-orders', numPartitions: 2 }] }), 'createTopics'), true);
    const md = await bounded(admin.fetchTopicMetadata({ topics: ['kjs-orders'] }), 'fetchTopicMetadata');
    assert.deepEqual(md.topics[0]!.partitions.map((p) => p.partitionId).sort(), [0, 1]);
    const configs = await bounded(admin.describeConfigs({ resources: [{ type: 2, name: 'kjs-orders' }], includeSynonyms: false }), 'describeConfigs');
    assert.ok(configs.resources[0]!.configEntries.some((e) => e.configName === 'cleanup.policy' && e.configValue === 'delete'));
  });

  test('a producer sends batches to both partitions; the broker stores them intact and in order', async () => {
    const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
    toClose.push(producer);
    await bounded(producer.connect(), 'producer connect');
    const first = await bounded(
      producer.send({
        topic: 'kjs-orders',
        acks: -1,
        messages: Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, key: `k${i}`, value: `v${i}`, headers: { n: String(i) } })),
      }),
      'send acks=-1',
    );
    assert.deepEqual(first.map((r) => [r.partition, r.errorCode, r.baseOffset]).sort(), [
      [0, 0, '0'],
      [1, 0, '0'],
    ]);
    await bounded(producer.send({ topic: 'kjs-orders', acks: 1, messages: [{ partition: 1, key: 'k10', value: Buffer.alloc(100_000, 7) }] }), 'send acks=1');
    assert.deepEqual(
      broker.records('kjs-orders', 0).map((r) => [r.offset, r.key?.toString(), r.value?.toString()]),
      [0, 2, 4, 6, 8].map((i, n) => [BigInt(n), `k${i}`, `v${i}`]),
    );
    const p1 = broker.records('kjs-orders', 1);
    assert.deepEqual(
      p1.map((r) => r.key?.toString()),
      ['k1', 'k3', 'k5', 'k7', 'k9', 'k10'],
    );
    assert.ok(p1[5]!.value!.equals(Buffer.alloc(100_000, 7)));
  });

  test('two consumers sharing a group split the two partitions and receive every record in order', async () => {
    const members: Member[] = [];
    const start = async (): Promise<Member> => {
      const consumer = kafka.consumer({ groupId: 'kjs-group', sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 250, maxWaitTimeInMs: 200 });
      toClose.push(consumer);
      const member: Member = { consumer, partitions: undefined, received: [] };
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        member.partitions = [...(e.payload.memberAssignment['kjs-orders'] ?? [])].sort();
      });
      await bounded(consumer.connect(), 'consumer connect');
      await bounded(consumer.subscribe({ topic: 'kjs-orders', fromBeginning: true }), 'subscribe');
      await bounded(
        consumer.run({
          eachMessage: async ({ partition, message }) => {
            member.received.push({ partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '', header: message.headers?.n?.toString() });
          },
        }),
        'consumer run',
      );
      members.push(member);
      return member;
    };
    const a = await start();
    await eventually(() => a.partitions?.length === 2, 'first member assigned both partitions');
    const b = await start();
    await eventually(
      () => a.partitions?.length === 1 && b.partitions?.length === 1 && a.partitions[0] !== b.partitions[0],
      `the rebalance gives each member one partition (a=${a.partitions}, b=${b.partitions})`,
    );
    // Records produced after the split go to the member that owns the partition.
    const producer = kafka.producer();
    toClose.push(producer);
    await bounded(producer.connect(), 'producer connect');
    await bounded(producer.send({ topic: 'kjs-orders', messages: [0, 1, 2, 3].map((i) => ({ partition: i % 2, key: `late${i}`, value: `after-split-${i}` })) }), 'send after split');
    const expected = (partition: number): string[] => broker.records('kjs-orders', partition).map((r) => r.key!.toString());
    await eventually(() => {
      const keys = members.flatMap((m) => m.received.map((r) => r.key));
      return keys.includes('late2') && keys.includes('late3');
    }, 'records after the split arrive');
    for (const m of members) {
      const owned = m.partitions![0]!;
      const late = m.received.filter((r) => r.key.startsWith('late'));
      assert.ok(late.every((r) => r.partition === owned), 'after the split a member receives only its own partition');
    }
    // Every record of each partition was delivered, in offset order, by whichever member owned it at the time.
    for (const partition of [0, 1]) {
      const got = members.flatMap((m) => m.received.filter((r) => r.partition === partition));
      const unique = [...new Map(got.map((r) => [r.offset, r])).values()].sort((x, y) => Number(x.offset) - Number(y.offset));
      assert.deepEqual(
        unique.map((r) => r.key),
        expected(partition),
        `partition ${partition}`,
      );
      for (const m of members) {
        const own = m.received.filter((r) => r.partition === partition).map((r) => Number(r.offset));
        assert.deepEqual(own, [...own].sort((x, y) => x - y), 'in order within a member');
      }
    }
    const k4 = members.flatMap((m) => m.received).find((r) => r.key === 'k4');
    assert.deepEqual([k4?.value, k4?.header], ['v4', '4']);
    for (const m of members) await bounded(m.consumer.disconnect(), 'consumer disconnect');
    const admin = kafka.admin();
    toClose.push(admin);
    await bounded(admin.connect(), 'admin connect');
    const offsets = await bounded(admin.fetchOffsets({ groupId: 'kjs-group', topics: ['kjs-orders'] }), 'fetchOffsets');
    assert.deepEqual(
      offsets[0]!.partitions.map((p) => [p.partition, p.offset]).sort(),
      [0, 1].map((p) => [p, String(expected(p).length)]),
      'offsets committed up to the end of each partition',
    );
    const described = await bounded(admin.describeGroups(['kjs-group']), 'describeGroups');
    assert.equal(described.groups[0]!.state, 'Empty');
  });

  test('kafkajs used the produce, fetch and group APIs, in the versions it negotiated (listed as a diagnostic)', (t) => {
    const versions = new Map<number, Set<number>>();
    for (const r of broker.requestsSeen().filter((s) => s.clientId === 'broker-kafkajs-test')) {
      if (!versions.has(r.apiKey)) versions.set(r.apiKey, new Set());
      versions.get(r.apiKey)!.add(r.apiVersion);
    }
    t.diagnostic(
      [...versions]
        .sort((x, y) => x[0] - y[0])
        .map(([k, vs]) => `${k}:v${[...vs].join('/')}`)
        .join(' '),
    );
    for (const key of [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18]) assert.ok(versions.has(key), `kafkajs sent api key ${key}`);
  });
});
