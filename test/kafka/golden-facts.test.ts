// Golden frames through the Kafka API semantics: the facts meshd's policy sees for each request
// written by an independent encoder (test/fixtures/kafka-golden/: kcat/librdkafka and kafkajs on
// the wire, kafkajs's request encoders, hand-written vectors) must be the stored ones, topic ids
// must be named once a broker has named them, and the deny response of every golden request must
// be the API's own response in the request's version: same correlation id, decodable, naming the
// request's topics and groups, with an authorization error where the request named something —
// and, for the versions kafkajs speaks, read by kafkajs's own response decoders as that error.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  DEFAULT_DENY_ERRORS,
  KAFKA_AUTHORIZATION_ERRORS,
  TopicNameCache,
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponse,
  denyResponse,
  encodeResponse,
  requestFacts,
  type KafkaMessage,
} from '../../proxylib/index.js';
import { loadGoldenFrames, type GoldenFacts, type LoadedGoldenFrame } from '../fixtures/kafka-golden/golden-frames.js';

const frames = loadGoldenFrames();
const require = createRequire(import.meta.url);
const BROKERS = [{ nodeId: 1, host: '127.0.0.1', port: 9092, rack: null }];

/** APIs whose response has one entry per topic of the request (by name, or by id in ID-only versions). */
const MIRRORS_TOPICS = new Set([0, 1, 2, 3, 8, 9, 19, 20, 21, 23, 24, 28, 32, 33, 37, 44, 61, 75]);
/** APIs whose response names each group of the request (per version where it applies). */
const mirrorsGroups = (apiKey: number, version: number): boolean =>
  apiKey === 15 || apiKey === 42 || (apiKey === 9 && version >= 8) || (apiKey === 10 && version >= 4) || apiKey === 32 || apiKey === 33 || apiKey === 44;

function decoded(g: LoadedGoldenFrame): { header: ReturnType<typeof decodeRequestHeader>; body: KafkaMessage } {
  const frame = g.bytes.subarray(4);
  const header = decodeRequestHeader(frame);
  return { header, body: decodeRequestBody(header.apiKey, header.apiVersion, frame, header.bodyOffset) };
}

/** Facts in a comparable form: sets as sorted arrays (the order a request lists things in is not a fact). */
function comparable(f: GoldenFacts): GoldenFacts {
  const sorted = (xs: readonly string[]): string[] => [...new Set(xs)].sort();
  return {
    topics: f.topics === 'all' ? 'all' : sorted(f.topics),
    unresolvedTopicIds: sorted(f.unresolvedTopicIds),
    groups: sorted(f.groups),
    transactionalIds: sorted(f.transactionalIds),
    expectsResponse: f.expectsResponse,
  };
}

/** Every string and every error code (fields named *ErrorCode / errorCode) anywhere in a decoded message. */
function walk(v: unknown, out: { strings: Set<string>; errors: number[] } = { strings: new Set(), errors: [] }, key = ''): { strings: Set<string>; errors: number[] } {
  if (typeof v === 'string') out.strings.add(v);
  else if (typeof v === 'number' && /errorcode$/i.test(key)) out.errors.push(v);
  else if (Array.isArray(v)) v.forEach((x) => walk(x, out, key));
  else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) for (const [k, x] of Object.entries(v)) walk(x, out, k);
  return out;
}

describe('the request facts of every golden frame are the stored ones', () => {
  for (const g of frames) {
    test(`${g.name} (${g.origin})`, () => {
      const { header, body } = decoded(g);
      const facts = requestFacts(header, body, new TopicNameCache());
      assert.deepEqual(comparable(facts), comparable(g.expect.facts));
    });
  }
});

test('topic ids of golden frames are named once a Metadata response has named them', () => {
  const withIds = frames.filter((g) => g.expect.facts.unresolvedTopicIds.length > 0);
  assert.ok(withIds.length >= 3, `golden frames with topic ids: ${withIds.map((g) => g.name).join(', ')}`);
  for (const g of withIds) {
    const ids = g.expect.facts.unresolvedTopicIds;
    const named = new Map(ids.map((id) => [id, `named-${id.slice(0, 8)}`]));
    // What a broker says: a Metadata v12 response, through the codec like one read off the wire.
    const metadata = encodeResponse(3, 12, 1, {
      brokers: BROKERS,
      topics: ids.map((id) => ({ errorCode: 0, name: named.get(id), topicId: id, isInternal: false, partitions: [] })),
    });
    const cache = new TopicNameCache();
    cache.learnFromResponse(3, 12, decodeResponse(3, 12, metadata.subarray(4)).body);
    const { header, body } = decoded(g);
    const facts = requestFacts(header, body, cache);
    const expectedTopics = g.expect.facts.topics === 'all' ? 'all' : [...g.expect.facts.topics, ...named.values()];
    assert.deepEqual(comparable(facts), comparable({ ...g.expect.facts, topics: expectedTopics, unresolvedTopicIds: [] }), g.name);
  }
});

describe('the deny response of every golden frame is the API\'s own response in the request\'s version', () => {
  for (const g of frames) {
    test(`${g.name}`, () => {
      const { header, body } = decoded(g);
      const deny = denyResponse(header, body, DEFAULT_DENY_ERRORS, { brokers: BROKERS });
      assert.equal(deny.readInt32BE(0), deny.length - 4, 'the size prefix matches');
      const response = decodeResponse(header.apiKey, header.apiVersion, deny.subarray(4));
      assert.equal(response.correlationId, header.correlationId, 'same correlation id');
      const seen = walk(response.body);
      const f = g.expect.facts;
      if (MIRRORS_TOPICS.has(g.apiKey) && f.topics !== 'all') {
        for (const t of [...f.topics, ...f.unresolvedTopicIds]) assert.ok(seen.strings.has(t), `the response names topic ${t}`);
      }
      if (mirrorsGroups(g.apiKey, g.apiVersion)) {
        for (const group of f.groups) assert.ok(seen.strings.has(group), `the response names group ${group}`);
      }
      const namesSomething = (f.topics === 'all' ? 0 : f.topics.length) + f.unresolvedTopicIds.length + f.groups.length + f.transactionalIds.length > 0;
      if (namesSomething) {
        assert.ok(
          seen.errors.some((e) => KAFKA_AUTHORIZATION_ERRORS.has(e) || e === 100),
          `an authorization error in the response (error codes seen: ${[...new Set(seen.errors)].join(', ') || 'none'})`,
        );
      }
    });
  }
});

/** kafkajs 2.2.4's folder (src/protocol/requests/<folder>) per API key. */
const KAFKAJS_MODULES: Record<number, string> = {
  0: 'produce', 1: 'fetch', 2: 'listOffsets', 3: 'metadata', 8: 'offsetCommit', 9: 'offsetFetch', 10: 'findCoordinator', 11: 'joinGroup',
  12: 'heartbeat', 13: 'leaveGroup', 14: 'syncGroup', 15: 'describeGroups', 19: 'createTopics', 20: 'deleteTopics', 21: 'deleteRecords',
  22: 'initProducerId', 24: 'addPartitionsToTxn', 25: 'addOffsetsToTxn', 26: 'endTxn', 28: 'txnOffsetCommit', 32: 'describeConfigs',
  33: 'alterConfigs', 37: 'createPartitions', 42: 'deleteGroups',
};
const AUTHORIZATION_TYPES = new Set(['TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

interface KafkajsResponse {
  decode(payload: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<unknown>;
}

function kafkajsResponse(apiKey: number, version: number, body: KafkaMessage): KafkajsResponse | undefined {
  const folder = KAFKAJS_MODULES[apiKey];
  if (folder === undefined) return undefined;
  let loaded: KafkajsResponse | ((request: unknown) => KafkajsResponse);
  try {
    loaded = require(`kafkajs/src/protocol/requests/${folder}/v${version}/response.js`) as typeof loaded;
  } catch {
    return undefined; // a version kafkajs does not speak
  }
  if (typeof loaded !== 'function') return loaded;
  // DeleteRecords' response module is made from the request (its errors carry the requested offsets).
  const topics = (body['topics'] as Array<{ name: string; partitions: Array<{ partitionIndex: number; offset: bigint }> }>).map((t) => ({
    topic: t.name,
    partitions: t.partitions.map((p) => ({ partition: p.partitionIndex, offset: String(p.offset) })),
  }));
  return loaded({ topics });
}

test('kafkajs\'s own response decoders read every deny response of a version they speak, and see the authorization error', async () => {
  let checked = 0;
  const problems: string[] = [];
  for (const g of frames) {
    const { header, body } = decoded(g);
    const decoder = kafkajsResponse(g.apiKey, g.apiVersion, body);
    if (!decoder) continue;
    const f = g.expect.facts;
    const deny = denyResponse(header, body, DEFAULT_DENY_ERRORS, { brokers: BROKERS });
    // What kafkajs's connection hands a response decoder: the bytes after the size and correlation id.
    const payload = deny.subarray(8);
    let result: unknown;
    try {
      result = await decoder.decode(payload);
    } catch (e) {
      problems.push(`${g.name}: kafkajs cannot decode the deny response: ${(e as Error).message}`);
      continue;
    }
    let thrown: unknown;
    try {
      await decoder.parse(result);
    } catch (e) {
      thrown = e;
    }
    const namesSomething = (f.topics === 'all' ? 0 : f.topics.length) + f.groups.length + f.transactionalIds.length > 0;
    if (thrown !== undefined) {
      // One protocol error, or an aggregate: per topic (CreateTopics), per partition (DeleteRecords).
      const t = thrown as { type?: string; errors?: Array<{ type?: string }>; partitions?: Array<{ error?: { type?: string } }>; message?: string };
      const types = t.type !== undefined ? [t.type] : [...(t.errors ?? []).map((e) => e.type ?? '?'), ...(t.partitions ?? []).map((p) => p.error?.type ?? '?')];
      if (types.length === 0 || !types.every((type) => AUTHORIZATION_TYPES.has(type))) {
        problems.push(`${g.name}: kafkajs fails with ${types.join(', ') || t.message}, not an authorization error`);
      }
    } else if (namesSomething) {
      const codes = walk(result).errors;
      if (!codes.some((c) => KAFKA_AUTHORIZATION_ERRORS.has(c))) problems.push(`${g.name}: kafkajs reads no authorization error (codes ${codes.join(', ') || 'none'})`);
    }
    checked++;
  }
  assert.deepEqual(problems, [], problems.join('\n'));
  console.log(`kafkajs decoded ${checked} deny responses`);
  assert.ok(checked >= 100, `${checked} deny responses read by kafkajs`);
});
