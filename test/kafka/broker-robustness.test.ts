// The fixture broker takes hostile bytes the way a broker does: a request it cannot decode closes that
// connection, nothing else. Bounded, seeded mutation of valid requests of every advertised API version;
// afterwards the broker still serves new connections and never reported a handler failure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaFixtureBroker, KafkaRawClient, buildRecordBatch } from '../fixtures/kafka-broker/index.js';

const FRAMES = Number(process.env.BROKER_MUTATIONS ?? 3000);
const FRAMES_PER_CONNECTION = 25;
const TIME_LIMIT_MS = 20_000;

/** xorshift32: reproducible mutations (the seed is in the test name's assertion messages). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function seedRequests(apis: Array<{ apiKey: number; minVersion: number; maxVersion: number }>): Buffer[] {
  const out: Buffer[] = [];
  let correlationId = 1;
  for (const { apiKey, minVersion, maxVersion } of apis) {
    for (let v = minVersion; v <= maxVersion; v++) {
      const body = KafkaRawClient.defaultRequest(apiKey, v);
      if (apiKey === 0) Object.assign(body, { acks: 1, topicData: [{ name: 'fz', partitionData: [{ index: 0, records: buildRecordBatch([{ key: 'k', value: 'v' }]) }] }] });
      if (apiKey === 1) Object.assign(body, { maxWaitMs: 10, topics: [{ topic: 'fz', topicId: '00000000-0000-0000-0000-000000000000', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 4096 }] }] });
      if (apiKey === 3) Object.assign(body, { topics: [{ name: 'fz', topicId: '00000000-0000-0000-0000-000000000000' }] });
      if (apiKey === 11) Object.assign(body, { groupId: 'fz-group', sessionTimeoutMs: 6000, rebalanceTimeoutMs: 100, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.from([0, 1]) }] });
      if (apiKey === 8) Object.assign(body, { groupId: 'fz-group', topics: [{ name: 'fz', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: null }] }] });
      try {
        out.push(KafkaRawClient.encode(apiKey, v, correlationId++, body));
      } catch {
        // A field this version cannot carry: the default request alone still seeds this version.
        out.push(KafkaRawClient.encode(apiKey, v, correlationId++, KafkaRawClient.defaultRequest(apiKey, v)));
      }
    }
  }
  return out;
}

function mutate(frame: Buffer, random: () => number): Buffer {
  const body = Buffer.from(frame.subarray(4));
  const kind = random();
  let out = body;
  if (kind < 0.6) {
    const flips = 1 + Math.floor(random() * 3);
    // Keep the api key and version (bytes 0-3) most of the time so the body decoders are reached.
    for (let i = 0; i < flips; i++) {
      const at = body.length > 4 && random() < 0.9 ? 4 + Math.floor(random() * (body.length - 4)) : Math.floor(random() * body.length);
      body[at] = Math.floor(random() * 256);
    }
  } else if (kind < 0.8) {
    out = body.subarray(0, Math.floor(random() * body.length));
  } else {
    const extra = Buffer.alloc(1 + Math.floor(random() * 16));
    for (let i = 0; i < extra.length; i++) extra[i] = Math.floor(random() * 256);
    out = Buffer.concat([body, extra]);
  }
  const size = Buffer.alloc(4);
  size.writeInt32BE(out.length);
  return Buffer.concat([size, out]);
}

describe('kafka fixture broker: hostile requests', () => {
  test(`${FRAMES} mutated requests of every advertised API version close connections at worst; the broker keeps serving`, async () => {
    const broker = await KafkaFixtureBroker.start({ topics: [{ name: 'fz', partitions: 2 }] });
    const reported: string[] = [];
    const realWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      if (text.startsWith('kafka fixture broker:')) reported.push(text);
      return (realWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    const clients: KafkaRawClient[] = [];
    const seed = 0x5eed;
    try {
      const probe = await KafkaRawClient.connect(broker.host, broker.port);
      clients.push(probe);
      const versions = await probe.request(18, 3, KafkaRawClient.defaultRequest(18, 3));
      const seeds = seedRequests(versions.apiKeys as Array<{ apiKey: number; minVersion: number; maxVersion: number }>);
      const random = rng(seed);
      const started = Date.now();
      let sent = 0;
      while (sent < FRAMES && Date.now() - started < TIME_LIMIT_MS) {
        const c = await KafkaRawClient.connect(broker.host, broker.port);
        clients.push(c);
        for (let i = 0; i < FRAMES_PER_CONNECTION && sent < FRAMES && !c.closed; i++, sent++) {
          c.sendRaw(mutate(seeds[Math.floor(random() * seeds.length)]!, random));
        }
        // Let the broker work through this connection's frames before the next one piles on.
        await new Promise((r) => setTimeout(r, 5));
      }
      await new Promise((r) => setTimeout(r, 300));
      const after = await KafkaRawClient.connect(broker.host, broker.port);
      clients.push(after);
      const md = await after.request(3, 9, { ...KafkaRawClient.defaultRequest(3, 9), topics: null });
      assert.ok((md.topics as Array<{ name: string }>).some((t) => t.name === 'fz'), 'the broker still answers Metadata');
      assert.deepEqual(reported, [], `handler failures (seed ${seed})`);
    } finally {
      process.stderr.write = realWrite;
      for (const c of clients) c.close();
      await broker.close();
    }
  });
});
