// The API tables of kafka-api-keys.ts are written out by hand from Kafka's schemas; this test
// checks them against proxylib/kafka/protocol/messages.json, the repo's normalized extract of the
// same schemas (read as data: the policy layer does not import the proxy's codec).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KAFKA_API_NAMES, KAFKA_GROUP_API_KEYS, KAFKA_ROLE_API_KEYS, KAFKA_TOPIC_API_KEYS } from './index.js';

interface SchemaField {
  name: string;
  type: string;
  entityType?: string;
  fields?: SchemaField[];
}
interface SchemaMessage {
  apiKey?: number;
  type: string;
  name: string;
  fields: SchemaField[];
  commonStructs?: Array<{ name: string; fields: SchemaField[] }>;
}

const MESSAGES_JSON = new URL('../../../proxylib/kafka/protocol/messages.json', import.meta.url);

function requests(): Map<number, SchemaMessage> {
  let text: string;
  try {
    text = readFileSync(MESSAGES_JSON, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${MESSAGES_JSON.pathname} (the Kafka schema extract, scripts/kafka-schemas/extract.mjs): ${(e as Error).message}`);
  }
  const doc = JSON.parse(text) as { messages: SchemaMessage[] };
  return new Map(doc.messages.filter((m) => m.type === 'request' && m.apiKey !== undefined).map((m) => [m.apiKey!, m]));
}

/** Every field of a message, nested structs and common structs included. */
function* fieldsOf(message: SchemaMessage): Generator<SchemaField> {
  const common = new Map((message.commonStructs ?? []).map((s) => [s.name, s.fields]));
  const seen = new Set<string>();
  function* walk(fields: SchemaField[]): Generator<SchemaField> {
    for (const f of fields) {
      yield f;
      if (f.fields) yield* walk(f.fields);
      const struct = f.type.replace(/^\[\]/, '');
      const shared = common.get(struct);
      if (shared && !seen.has(struct)) {
        seen.add(struct);
        yield* walk(shared);
      }
    }
  }
  yield* walk(message.fields);
}

const CONFIG_APIS = [32, 33, 44];

test('the API name table is the schema set’s request names, keys 0 to 87', () => {
  const byKey = requests();
  assert.equal(byKey.size, KAFKA_API_NAMES.length);
  for (const [key, message] of byKey) assert.equal(KAFKA_API_NAMES[key], message.name.replace(/Request$/, ''), `key ${key}`);
});

test('every request that carries topic names, topic ids or config resources is a topic key', () => {
  for (const [key, message] of requests()) {
    const carries = [...fieldsOf(message)].some(
      (f) => f.entityType === 'topicName' || (f.name === 'TopicId' && f.type === 'uuid') || (/^(\[\])?string$/.test(f.type) && /TopicNames$/.test(f.name)),
    );
    if (carries || CONFIG_APIS.includes(key)) assert.equal(KAFKA_TOPIC_API_KEYS.has(key), true, `${message.name} (${key}) carries topics`);
  }
});

test('every request that carries group ids is a group key', () => {
  for (const [key, message] of requests()) {
    const carries = [...fieldsOf(message)].some((f) => f.entityType === 'groupId' || (f.name === 'GroupId' && f.type === 'string'));
    if (carries || CONFIG_APIS.includes(key) || key === 10) assert.equal(KAFKA_GROUP_API_KEYS.has(key), true, `${message.name} (${key}) carries groups`);
  }
});

test('the topic and group lists name only keys of the schema set', () => {
  for (const key of [...KAFKA_TOPIC_API_KEYS, ...KAFKA_GROUP_API_KEYS, ...KAFKA_ROLE_API_KEYS.produce, ...KAFKA_ROLE_API_KEYS.consume]) {
    assert.ok(Number.isInteger(key) && key >= 0 && key < KAFKA_API_NAMES.length, `key ${key}`);
  }
});
