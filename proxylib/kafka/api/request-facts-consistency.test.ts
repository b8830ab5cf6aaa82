// A mechanical check of requestFacts and policy's key lists against the schema set: every request
// field that names a topic (entityType topicName, or a topic-id uuid), a group (entityType groupId)
// or a transactional id (entityType transactionalId), in every version, must come out of
// requestFacts on a populated request, and every API key that carries topics or groups must be in
// policy's KAFKA_TOPIC_API_KEYS / KAFKA_GROUP_API_KEYS (a key missing there would let a topic or
// group rule pass it whatever it names).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as policy from '../../../policy/index.js';
import {
  decodeRequestBody,
  decodeRequestHeader,
  encodeRequest,
  KAFKA_APIS,
  KAFKA_MESSAGE_DESCRIPTORS,
  sampleMessage,
  type KafkaMessage,
  type KafkaStructDescriptor,
} from '../protocol/index.js';
import { requestFacts, TopicNameCache, ZERO_TOPIC_ID } from './index.js';

type Kind = 'topic' | 'topicId' | 'group' | 'transactionalId';
interface Site {
  kind: Kind;
  path: string[];
}

/**
 * Fields that name a topic but grant nothing, so requestFacts leaves them out on purpose:
 * forgotten topics (Fetch v7+, ShareFetch) leave a fetch session; DescribeTopicPartitions' cursor
 * only pages through the topics the request names.
 */
const NOT_FACTS = new Set(['forgottenTopicsData', 'cursor']);

/**
 * Keys whose topics or groups are not marked by entityType in the schema, read by requestFacts
 * from other fields: config resources (TOPIC/GROUP resource names), FindCoordinator keys.
 */
const UNMARKED_TOPIC_KEYS = [32, 33, 44];
const UNMARKED_GROUP_KEYS = [10, 32, 33, 44];

const inRange = (r: readonly [number, number] | null | undefined, v: number) => r != null && v >= r[0] && v <= r[1];

function sites(struct: KafkaStructDescriptor, version: number, path: string[] = []): Site[] {
  const out: Site[] = [];
  const present = struct.fields.filter((f) => inRange(f.v, version));
  const namesTopic = present.some((f) => f.e === 'topicName');
  for (const f of present) {
    if (NOT_FACTS.has(f.n)) continue;
    const p = [...path, f.n];
    if (f.e === 'topicName') out.push({ kind: 'topic', path: p });
    else if (f.e === 'groupId') out.push({ kind: 'group', path: p });
    else if (f.e === 'transactionalId') out.push({ kind: 'transactionalId', path: p });
    // An entry that names its topic both ways (Metadata v10+, DeleteTopics v6+, LeaderAndIsr v5+)
    // is not scanned for its id: Metadata reads the ids or the names as the broker does, DeleteTopics
    // reads both (request-facts.test.ts checks those two), LeaderAndIsr is broker to broker.
    else if (f.t === 'uuid' && f.n === 'topicId' && !namesTopic) out.push({ kind: 'topicId', path: p });
    if (f.s) out.push(...sites(f.s, version, p));
  }
  return out;
}

function valuesAt(m: unknown, path: readonly string[]): string[] {
  if (Array.isArray(m)) return m.flatMap((e) => valuesAt(e, path));
  if (path.length === 0) return typeof m === 'string' ? [m] : [];
  if (typeof m !== 'object' || m === null) return [];
  return valuesAt((m as KafkaMessage)[path[0]!], path.slice(1));
}

function onTheWire(apiKey: number, apiVersion: number, body: KafkaMessage) {
  const frame = encodeRequest({ apiKey, apiVersion, correlationId: 1, clientId: 'c' }, body).subarray(4);
  const h = decodeRequestHeader(frame);
  return { h, body: decodeRequestBody(apiKey, apiVersion, frame, h.bodyOffset) };
}

const requestDescriptors = KAFKA_MESSAGE_DESCRIPTORS.filter((d) => d.kind === 'request' && d.apiKey !== undefined);
const topicKeys = new Set<number>(UNMARKED_TOPIC_KEYS);
const groupKeys = new Set<number>(UNMARKED_GROUP_KEYS);
for (const d of requestDescriptors) {
  for (let v = d.valid[0]; v <= d.valid[1]; v++) {
    for (const s of sites(d.root, v)) {
      if (s.kind === 'topic' || s.kind === 'topicId') topicKeys.add(d.apiKey!);
      if (s.kind === 'group') groupKeys.add(d.apiKey!);
    }
  }
}

describe('requestFacts against the schema set', () => {
  test('the scan covers every request schema of the codec', () => {
    assert.equal(requestDescriptors.length, KAFKA_APIS.size);
    assert.ok(topicKeys.has(0) && topicKeys.has(1) && groupKeys.has(11), 'the scan found Produce, Fetch and JoinGroup');
  });

  for (const d of requestDescriptors) {
    const apiKey = d.apiKey!;
    test(`${d.name}: every topic, topic id, group and transactional id of every version is a fact`, () => {
      for (let v = d.valid[0]; v <= d.valid[1]; v++) {
        const found = sites(d.root, v);
        if (found.length === 0) continue;
        const sample = sampleMessage('request', apiKey, v, 1000 + v);
        // A regex subscription is every topic (ConsumerGroupHeartbeat v1); the names are what is checked here.
        if (apiKey === 68) sample['subscribedTopicRegex'] = null;
        // Metadata v10+: a broker ignores every name once an entry has a topic id, and so do the
        // facts; the names are checked on a second request whose ids are all zero.
        const namesIgnored = apiKey === 3 && v >= 10;
        if (namesIgnored) {
          const byName = structuredClone(sample);
          for (const t of byName['topics'] as Array<Record<string, unknown>>) t['topicId'] = ZERO_TOPIC_ID;
          const wire = onTheWire(apiKey, v, byName);
          const names = requestFacts(wire.h, wire.body, new TopicNameCache()).topics;
          for (const t of wire.body['topics'] as Array<Record<string, unknown>>) {
            assert.ok(Array.isArray(names) && names.includes(t['name'] as string), `${d.name} v${v}: topics.name ${JSON.stringify(t['name'])} is a fact when no id is given`);
          }
        }
        const { h, body } = onTheWire(apiKey, v, sample);
        const facts = requestFacts(h, body, new TopicNameCache());
        assert.notEqual(facts.topics, 'all', `${d.name} v${v}: a populated request is not for all topics`);
        const got: Record<Kind, readonly string[]> = {
          topic: facts.topics as string[],
          topicId: facts.unresolvedTopicIds,
          group: facts.groups,
          transactionalId: facts.transactionalIds,
        };
        for (const s of found) {
          if (namesIgnored && s.kind === 'topic') continue;
          const values = valuesAt(body, s.path);
          assert.ok(values.length > 0, `${d.name} v${v} ${s.path.join('.')}: the sample holds a value`);
          for (const value of values) {
            assert.ok(got[s.kind].includes(value), `${d.name} v${v} ${s.path.join('.')} (${s.kind}) = ${JSON.stringify(value)} is missing from the facts ${JSON.stringify(got[s.kind])}`);
          }
        }
      }
    });
  }

  test("every key that carries topics is in policy's KAFKA_TOPIC_API_KEYS", () => {
    const listed = (policy as unknown as Record<string, unknown>)['KAFKA_TOPIC_API_KEYS'];
    assert.ok(listed instanceof Set, 'policy/index.ts exports KAFKA_TOPIC_API_KEYS');
    const missing = [...topicKeys].filter((k) => !listed.has(k)).sort((a, b) => a - b);
    assert.deepEqual(missing, [], `keys carrying topics missing from KAFKA_TOPIC_API_KEYS: ${missing.map((k) => `${k} ${KAFKA_APIS.get(k)?.name}`).join(', ')}`);
  });

  test("every key that carries groups is in policy's KAFKA_GROUP_API_KEYS", () => {
    const listed = (policy as unknown as Record<string, unknown>)['KAFKA_GROUP_API_KEYS'];
    assert.ok(listed instanceof Set, 'policy/index.ts exports KAFKA_GROUP_API_KEYS');
    const missing = [...groupKeys].filter((k) => !listed.has(k)).sort((a, b) => a - b);
    assert.deepEqual(missing, [], `keys carrying groups missing from KAFKA_GROUP_API_KEYS: ${missing.map((k) => `${k} ${KAFKA_APIS.get(k)?.name}`).join(', ')}`);
  });
});
